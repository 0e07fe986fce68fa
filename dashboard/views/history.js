// Time series of state counts and transition rates, from the agent's own history
// (GET /api/v1/history), so a fresh page shows the last hour at once. Every second the
// newest samples are appended; pause freezes the charts, the range picks the window.

import { fetchJson, poll, query } from '../api.js';
import { state, on, emit, netnsParam, replaceHistory, appendHistory, trimHistory } from '../state.js';
import { TimeChart } from './charts.js';
import { formatInt, formatRate } from './dom.js';

const STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'NEW_SYN_RECV', 'LISTEN', 'FIN_WAIT1', 'FIN_WAIT2',
  'CLOSING', 'TIME_WAIT', 'CLOSE_WAIT', 'LAST_ACK'];
const MAX_TRANSITION_SERIES = 12;

let statesChart;
let ratesChart;
let note;
let loading = null;
let ticker = null;

export function mount({ statesBox, ratesBox, rangeSelect, pause, status }) {
  statesChart = new TimeChart(statesBox, { yFormat: formatInt, whole: true });
  ratesChart = new TimeChart(ratesBox, { yFormat: formatRate, unit: '/s' });
  note = status;

  rangeSelect.value = String(state.range);
  rangeSelect.addEventListener('change', () => {
    state.range = Number(rangeSelect.value);
    emit('range');
    reload();
  });
  pause.addEventListener('click', () => {
    state.paused = !state.paused;
    pause.setAttribute('aria-pressed', String(state.paused));
    pause.textContent = state.paused ? 'Resume' : 'Pause';
    emit('paused');
    if (!state.paused) reload(); // catch up with what happened meanwhile
  });

  on('netns', reload);
  on('restart', reload);
  reload();
  ticker = poll(() => `/api/v1/history${query({ netns: netnsParam(), seconds: 10 })}`, 1000, onTick, onError);
}

/** The whole window, again: on start, on a namespace or range change, after a restart. */
async function reload() {
  const mine = {};
  loading = mine;
  try {
    const body = await fetchJson(`/api/v1/history${query({ netns: netnsParam(), seconds: state.range })}`);
    if (loading !== mine) return;
    replaceHistory(body);
    note.textContent = body.time.length ? '' : 'no history yet: the agent records one sample a second';
    emit('history', { replaced: true });
    draw();
  } catch (e) {
    if (loading === mine) note.textContent = `history unavailable: ${e.message}`;
  } finally {
    if (loading === mine) loading = null;
  }
}

function onTick(body) {
  if (loading) return; // the full window is on its way
  const before = state.history.time.length ? state.history.time[state.history.time.length - 1] : null;
  if (before !== null && body.time.length && body.time[body.time.length - 1] < before) {
    reload(); // the clock went back or a new agent answers
    return;
  }
  const added = appendHistory(body, state.range);
  if (added === 0) return;
  note.textContent = '';
  emit('history', { replaced: false });
  draw();
}

function onError(e) {
  note.textContent = `history unavailable: ${e.message}`;
}

function draw() {
  if (state.paused) return;
  trimHistory(state.range);
  const h = state.history;
  const stateSeries = STATES
    .filter((s) => (h.states[s] ?? []).some((v) => v > 0) || ['ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT'].includes(s))
    .map((s) => ({ name: s === 'NEW_SYN_RECV' ? 'SYN_RECV (half-open)' : s, values: h.states[s] ?? h.time.map(() => 0)}));
  statesChart.update(h.time, stateSeries);

  const transitions = [...h.transitions.values()]
    .map((t) => ({ t, total: t.rate.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total)
    .slice(0, MAX_TRANSITION_SERIES)
    .map(({ t }) => ({
      name: `${t.from === 'CLOSE' ? 'CLOSED' : t.from}→${t.to === 'CLOSE' ? 'CLOSED' : t.to}${t.derived ? ' (tw)' : ''}`,
      values: t.rate,
    }));
  ratesChart.update(h.time, transitions.length ? transitions : [{ name: 'no transitions', values: h.time.map(() => 0) }]);
}

export function stop() {
  if (ticker) ticker.stop();
}
