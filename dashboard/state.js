// What the page knows, in one place. Views read it and subscribe to the topics they
// draw; only app.js and the loaders here write it.
//
// Topics: 'netns' (the selected namespace changed), 'states' (a states message from the
// stream: counts, health, known namespaces), 'history' (the time series changed: detail
// {replaced: boolean}), 'connection' (stream open / reconnecting), 'restart' (the agent
// behind the page is a new one), 'range', 'paused'.

const subscribers = new Map();

export const state = {
  /** '' means all namespaces; otherwise a namespace inode as a string. */
  netns: '',
  /** Seconds of history the charts show. */
  range: 900,
  /** Charts frozen by the user (the live counts and the state machine go on). */
  paused: false,
  /** The last states message: { states, netns, status, health, dropped }. */
  live: null,
  /** Wall time the agent started at: a change means the agent was restarted. */
  startedMillis: null,
  connection: 'connecting',
  /** Time series, oldest first: see emptyHistory(). */
  history: emptyHistory(),
};

export function on(topic, fn) {
  if (!subscribers.has(topic)) subscribers.set(topic, new Set());
  subscribers.get(topic).add(fn);
  return () => subscribers.get(topic).delete(fn);
}

export function emit(topic, detail) {
  for (const fn of subscribers.get(topic) ?? []) {
    try {
      fn(detail);
    } catch (e) {
      console.error(`view failed on '${topic}'`, e); // one broken view must not stop the others
    }
  }
}

/** Query parameter for the selected namespace. */
export function netnsParam() {
  return state.netns || null;
}

// ---- history ----

/**
 * time: epoch seconds; states: name -> counts; transitions: key -> { from, to, derived,
 * rate[] } with rate per second, aligned with time.
 */
export function emptyHistory() {
  return { time: [], states: {}, transitions: new Map() };
}

export function transitionKey(t) {
  return `${t.from}>${t.to}${t.derived ? '*' : ''}`;
}

/** Replaces the history with a /api/v1/history answer. */
export function replaceHistory(body) {
  const h = emptyHistory();
  h.time = body.time.slice();
  for (const [name, values] of Object.entries(body.states)) h.states[name] = values.slice();
  for (const t of body.transitions) {
    h.transitions.set(transitionKey(t), { from: t.from, to: t.to, derived: t.derived, rate: t.rate.slice() });
  }
  state.history = h;
}

/**
 * Appends the samples of a short /api/v1/history answer that are newer than what the
 * page holds, then keeps only the last `keep` seconds. Returns the number appended.
 */
export function appendHistory(body, keep) {
  const h = state.history;
  const last = h.time.length ? h.time[h.time.length - 1] : -Infinity;
  let first = body.time.findIndex((t) => t > last);
  if (first < 0) return 0;
  const n = body.time.length - first;
  const before = h.time.length;
  h.time.push(...body.time.slice(first));
  for (const [name, values] of Object.entries(body.states)) {
    if (!h.states[name]) h.states[name] = new Array(before).fill(0);
    h.states[name].push(...values.slice(first));
  }
  const seen = new Set();
  for (const t of body.transitions) {
    const key = transitionKey(t);
    seen.add(key);
    let series = h.transitions.get(key);
    if (!series) {
      series = { from: t.from, to: t.to, derived: t.derived, rate: new Array(before).fill(0) };
      h.transitions.set(key, series);
    }
    series.rate.push(...t.rate.slice(first));
  }
  for (const [key, series] of h.transitions) {
    if (!seen.has(key)) series.rate.push(...new Array(n).fill(0));
  }
  trimHistory(keep);
  return n;
}

/** Drops samples older than `keep` seconds before the newest, and series left all zero. */
export function trimHistory(keep) {
  const h = state.history;
  if (!h.time.length) return;
  const cutoff = h.time[h.time.length - 1] - keep;
  let drop = 0;
  while (drop < h.time.length && h.time[drop] <= cutoff) drop++;
  if (drop === 0) return;
  h.time.splice(0, drop);
  for (const values of Object.values(h.states)) values.splice(0, drop);
  for (const [key, series] of h.transitions) {
    series.rate.splice(0, drop);
    if (series.rate.every((r) => r === 0)) h.transitions.delete(key);
  }
}

/** Rate of each transition in the newest sample: key -> per second. */
export function latestRates() {
  const h = state.history;
  const out = new Map();
  const i = h.time.length - 1;
  if (i < 0) return out;
  for (const [key, series] of h.transitions) out.set(key, series.rate[i] ?? 0);
  return out;
}

/**
 * Sockets leaving TIME_WAIT per second over the last `window` seconds, estimated: the
 * kernel reports entries (timewait hand-overs) but not expiries, so exits = entries -
 * growth of the count. Null when the history is too short.
 */
export function timeWaitExitRate(window = 10) {
  const h = state.history;
  const n = h.time.length;
  if (n < 2) return null;
  const from = Math.max(0, n - 1 - window);
  const seconds = h.time[n - 1] - h.time[from];
  if (seconds <= 0) return null;
  let entries = 0;
  for (const series of h.transitions.values()) {
    if (!series.derived || series.to !== 'TIME_WAIT') continue;
    for (let i = from + 1; i < n; i++) entries += series.rate[i] * (h.time[i] - h.time[i - 1]);
  }
  const tw = h.states.TIME_WAIT ?? [];
  const growth = (tw[n - 1] ?? 0) - (tw[from] ?? 0);
  return Math.max(0, (entries - growth) / seconds);
}
