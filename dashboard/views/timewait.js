// TIME_WAIT ledger (GET /api/v1/timewait): total, the destinations holding the most local
// ports with a port-exhaustion gauge each, and the local ports with the most TIME_WAIT.

import { poll, query } from '../api.js';
import { on, netnsParam } from '../state.js';
import { el, bar, emptyRow, formatInt, formatRate, formatSeconds } from './dom.js';

let summary;
let remoteBody;
let portsBody;
let note;
let poller;

export function mount({ summaryBox, remoteTable, portsTable, status }) {
  summary = summaryBox;
  remoteBody = remoteTable.tBodies[0];
  portsBody = portsTable.tBodies[0];
  note = status;
  poller = poll(() => `/api/v1/timewait${query({ netns: netnsParam(), limit: 20 })}`, 2000, render, onError);
  on('netns', () => poller.refresh());
  on('restart', () => poller.refresh());
}

function onError(e) {
  note.textContent = e.status === 404
    ? 'This agent does not report the TIME_WAIT ledger yet (GET /api/v1/timewait answered 404).'
    : `TIME_WAIT ledger unavailable: ${e.message}`;
}

function render(tw) {
  note.textContent = '';
  const facts = [el('div', { class: 'fact' }, el('span', { class: 'big', id: 'timewait-total', text: formatInt(tw.total) }),
    el('span', { class: 'label', text: 'sockets in TIME_WAIT' }))];
  if (tw.entriesPerSecond !== undefined) {
    facts.push(el('div', { class: 'fact' }, el('span', { class: 'big', text: `${formatRate(tw.entriesPerSecond)}/s` }),
      el('span', { class: 'label', text: 'entering' })));
  }
  if (tw.maxBuckets) {
    facts.push(el('div', { class: 'fact' }, bar(tw.total, tw.maxBuckets, { warn: 0.5, crit: 0.9,
      label: `${formatInt(tw.total)} / ${formatInt(tw.maxBuckets)}` }),
    el('span', { class: 'label', text: 'of tcp_max_tw_buckets' })));
  }
  if (tw.overflows !== undefined) {
    facts.push(el('div', { class: `fact${tw.overflows > 0 ? ' alarm' : ''}` },
      el('span', { class: 'big', text: formatInt(tw.overflows) }), el('span', { class: 'label', text: 'bucket overflows' })));
  }
  summary.replaceChildren(...facts);

  const remotes = tw.byRemote ?? [];
  remoteBody.replaceChildren(...(remotes.length ? remotes.map((r) => {
    const pct = `${(r.exhaustion * 100).toFixed(1)}%`;
    return el('tr', { 'data-testid': 'timewait-row', dataset: { remote: r.remote, exhaustion: r.exhaustion } },
      el('td', { dataset: { field: 'remote' }, text: r.remote }),
      el('td', { dataset: { field: 'local' }, text: r.local ?? '' }),
      el('td', { class: 'num', dataset: { field: 'count' }, text: formatInt(r.count) }),
      el('td', { class: 'num', dataset: { field: 'portsInUse' }, text: `${formatInt(r.portsInUse)} / ${formatInt(r.portRange)}` }),
      el('td', { class: 'gauge', dataset: { field: 'exhaustion' } },
        bar(r.exhaustion * 100, 100, { warn: 0.5, crit: 0.8, label: pct })),
      el('td', { class: 'num', dataset: { field: 'secondsToExhaustion' },
        text: r.secondsToExhaustion === null || r.secondsToExhaustion === undefined ? 'not at this rate'
          : formatSeconds(r.secondsToExhaustion) }));
  }) : [emptyRow(6, 'no TIME_WAIT sockets towards any destination')]));

  const ports = tw.byLocalPort ?? [];
  portsBody.replaceChildren(...(ports.length ? ports.map((p) => el('tr', { dataset: { port: p.port } },
    el('td', { class: 'num', text: String(p.port) }),
    el('td', { class: 'num', text: formatInt(p.count) }))) : [emptyRow(2, 'none')]));
}
