// Handshake-latency and lifetime distributions (GET /api/v1/latency): bars per
// power-of-two bucket, and the percentiles the agent computes.

import { poll, query } from '../api.js';
import { on, netnsParam } from '../state.js';
import { BarChart } from './charts.js';
import { el, formatInt, formatSeconds } from './dom.js';

const KINDS = [
  { key: 'handshakeClient', title: 'Handshake, client side (SYN_SENT → ESTABLISHED)', color: '#3b82f6' },
  { key: 'handshakeServer', title: 'Handshake, server side (SYN-ACK round trip)', color: '#06b6d4' },
  { key: 'lifetime', title: 'Connection lifetime (birth → CLOSED)', color: '#2e9e5b' },
];

let panels = [];
let note;
let poller;

export function mount({ container, status }) {
  note = status;
  panels = KINDS.map((k) => {
    const chart = el('div', { class: 'chart', 'data-testid': `latency-${k.key}` });
    const stats = el('dl', { class: 'percentiles' });
    container.append(el('div', { class: 'panel' }, el('h3', { text: k.title }), stats, chart));
    return { ...k, chart: new BarChart(chart), stats };
  });
  poller = poll(() => `/api/v1/latency${query({ netns: netnsParam() })}`, 5000, render, (e) => {
    note.textContent = `Latency unavailable: ${e.message}`;
  });
  on('netns', () => poller.refresh());
  on('restart', () => poller.refresh());
}

/** Upper bound of a bucket, short: 1µs, 512µs, 1ms, 2.1s, 9.5h, +Inf. */
function boundLabel(le) {
  if (le === null) return '+Inf';
  if (le < 1e-3) return `${Math.round(le * 1e6)}µs`;
  if (le < 1) return `${+(le * 1e3).toPrecision(2)}ms`;
  if (le < 120) return `${+le.toPrecision(2)}s`;
  if (le < 7200) return `${+(le / 60).toPrecision(2)}m`;
  return `${+(le / 3600).toPrecision(2)}h`;
}

function render(lat) {
  note.textContent = '';
  for (const p of panels) {
    const h = lat[p.key];
    if (!h) continue;
    const stats = [['count', formatInt(h.count)], ['p50', formatSeconds(h.p50)], ['p90', formatSeconds(h.p90)],
      ['p99', formatSeconds(h.p99)], ['p99.9', formatSeconds(h.p999)], ['max', formatSeconds(h.max)]];
    p.stats.replaceChildren(...stats.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    const buckets = h.buckets ?? [];
    let lo = buckets.findIndex((b) => b.count > 0);
    let hi = buckets.length - 1 - [...buckets].reverse().findIndex((b) => b.count > 0);
    if (lo < 0) {
      lo = 6; // 64 µs .. 65 ms when there is nothing yet
      hi = 16;
    }
    lo = Math.max(0, lo - 1);
    hi = Math.min(buckets.length - 1, hi + 1);
    const shown = buckets.slice(lo, hi + 1);
    p.chart.update(shown.map((b) => boundLabel(b.le)), shown.map((b) => b.count), p.color);
  }
}
