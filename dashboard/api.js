// Talks to the agent: JSON fetches, periodic polls and the live SSE stream, each of
// which survives the agent going away and coming back.

const FIRST_RETRY_MS = 2000; // same as the server's `retry:` hint
const MAX_RETRY_MS = 30000;
const STALL_MS = 5000;       // states arrive every second; silence this long means a dead link
const FETCH_TIMEOUT_MS = 10000;

/** An answer other than 2xx; status 0 when the agent could not be reached. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Query string from an object, leaving out empty values: {netns: '', port: 80} -> "?port=80". */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function fetchJson(path) {
  let response;
  try {
    response = await fetch(path, {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (e) {
    throw new ApiError(0, `agent unreachable: ${e.message}`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const detail = body && body.error ? `${body.error}: ${body.detail}` : `HTTP ${response.status}`;
    throw new ApiError(response.status, detail);
  }
  if (body === null) throw new ApiError(response.status, 'the answer is not JSON');
  return body;
}

/**
 * Calls fetchJson(path()) now and every intervalMs, handing onData(body) or
 * onError(ApiError) the outcome. path is a function so each poll sees the current
 * namespace. Skips polls while the tab is hidden. Returns { refresh(), stop() }.
 */
export function poll(path, intervalMs, onData, onError) {
  let timer = null;
  let stopped = false;
  let generation = 0;

  async function tick() {
    clearTimeout(timer);
    if (stopped) return;
    const mine = ++generation;
    if (!document.hidden) {
      try {
        const body = await fetchJson(path());
        if (mine === generation && !stopped) onData(body);
      } catch (e) {
        if (mine === generation && !stopped) onError(e);
      }
    }
    if (mine === generation && !stopped) timer = setTimeout(tick, intervalMs);
  }

  tick();
  return {
    refresh: tick,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Opens /api/v1/stream and keeps it open: when the agent restarts or the link stalls,
 * reconnects with exponential backoff (2 s, 4 s ... 30 s, with jitter).
 * filter: { netns, port, state, peer } (empty values match everything).
 * handlers: onStates(msg), onEvent(event), onStatus('open' | 'reconnecting', retryMs).
 * Returns { close() }.
 */
export function openStream(filter, handlers) {
  let source = null;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer = null;
  let stallTimer = null;
  let closed = false;

  const url = `/api/v1/stream${query(typeof filter === 'object' ? filter : { netns: filter })}`;

  function connect() {
    retryTimer = null;
    source = new EventSource(url);
    source.addEventListener('open', () => {
      retryMs = FIRST_RETRY_MS;
      handlers.onStatus('open');
      watch();
    });
    source.addEventListener('states', (m) => {
      watch();
      handlers.onStates(JSON.parse(m.data));
    });
    source.addEventListener('event', (m) => handlers.onEvent(JSON.parse(m.data)));
    // EventSource retries by itself only on some failures; own the policy instead
    source.addEventListener('error', reconnect);
  }

  function watch() {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(reconnect, STALL_MS);
  }

  function reconnect() {
    if (closed || retryTimer !== null) return;
    clearTimeout(stallTimer);
    source.close();
    const delay = retryMs * (0.8 + Math.random() * 0.4);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    handlers.onStatus('reconnecting', delay);
    retryTimer = setTimeout(connect, delay);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(stallTimer);
      source.close();
    },
  };
}
