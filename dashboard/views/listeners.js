// Listening sockets (GET /api/v1/listeners): accept-queue and SYN-queue fill, overflows,
// drops, SYN-ACK retransmits, the connections the port accepted (by state, how many, what
// they carried: retransmits, bytes, RTT), owner and verdict; sortable; a row opens the
// listener's own charts (GET /api/v1/history/listener).

import { poll, query } from '../api.js';
import { state, on, netnsParam } from '../state.js';
import { el, bar, emptyRow, endpoint, formatBytes, formatHolders, formatInt, formatMs, formatOwner, formatPercent, formatRate, formatStates, stateTotal, sortableHead } from './dom.js';
import { TimeChart } from './charts.js';

const COLUMNS = [
  { key: 'listener', title: 'listener', sort: (l) => `${l.addr}:${String(l.port).padStart(5, '0')}` },
  { key: 'netns', title: 'netns', sort: (l) => l.netns, num: true },
  { key: 'acceptQueue', title: 'accept queue', sort: (l) => fill(l.acceptQueue, l.acceptQueueMax), num: true },
  { key: 'synQueue', title: 'SYN queue', sort: (l) => fill(l.synQueue, l.synQueueMax), num: true },
  { key: 'overflows', title: 'overflows', sort: (l) => l.overflows, num: true },
  { key: 'drops', title: 'drops', sort: (l) => l.drops, num: true },
  { key: 'synAckRetransmits', title: 'SYN-ACK retrans.', sort: (l) => l.synAckRetransmits, num: true },
  { key: 'resetsSent', title: 'RST sent', sort: (l) => l.resetsSent ?? 0, num: true },
  { key: 'owner', title: 'owner', sort: (l) => formatOwner(l.owner).toLowerCase() },
  { key: 'verdict', title: 'verdict', sort: (l) => VERDICT_ORDER[l.verdict] ?? 9 },
  // what the connections the port accepted did
  { key: 'accepted', title: 'accepted', sort: (l) => l.accepted ?? 0, num: true },
  { key: 'connections', title: 'connections', sort: (l) => stateTotal(l.states), num: true },
  { key: 'retransmits', title: 'retransmits', sort: (l) => l.retransmits ?? 0, num: true },
  { key: 'bytesSent', title: 'sent', sort: (l) => l.bytesSent ?? 0, num: true },
  { key: 'bytesReceived', title: 'received', sort: (l) => l.bytesReceived ?? 0, num: true },
  { key: 'rtt', title: 'RTT p50 / p99', sort: (l) => rtt(l, 'p99') ?? -1, num: true },
];
const VERDICT_ORDER = { 'syn-flood-suspected': 0, 'accept-queue-full': 1, ok: 2 };
const VERDICT_TEXT = {
  ok: 'ok',
  'accept-queue-full': 'not accepting',
  'syn-flood-suspected': 'SYN flood?',
};
const VERDICT_SENTENCE = {
  ok: 'queues are fine',
  'accept-queue-full': 'the accept queue sits full: the application is not accepting fast enough',
  'syn-flood-suspected': 'SYN flood suspected: half-open sockets and SYN-ACK retransmits climb while handshakes do not complete',
};

let body;
let note;
const sort = { key: 'verdict', asc: true };
let markSort = () => {};
let rows = [];
let selected = null; // { netns, addr, port }
let detail;
let detailChart;
let detailRates;
let detailTitle;
let detailNote;
let detailVerdict;
let detailPoll = null;
let poller;

function fill(n, max) {
  return max > 0 ? n / max : n;
}

/** A percentile of the accepted connections' RTT in seconds, null when nothing was sampled. */
function rtt(l, pct) {
  const r = l.rtt;
  if (!r || !(r.count > 0)) return null;
  const v = r[pct];
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

export function mount({ table, status, detailBox }) {
  body = table.tBodies[0];
  note = status;
  markSort = sortableHead(table.tHead.rows[0], COLUMNS, sort, render);

  detail = detailBox;
  detailTitle = el('h3', { id: 'listener-detail-title' });
  detailNote = el('p', { class: 'muted' });
  detailVerdict = el('p', { class: 'verdict-sentence' });
  const close = el('button', { type: 'button', class: 'close', 'aria-label': 'close the listener detail' }, '×');
  close.addEventListener('click', () => select(null));
  const queues = el('div', { class: 'chart', 'data-testid': 'listener-chart-queues' });
  const rates = el('div', { class: 'chart', 'data-testid': 'listener-chart-rates' });
  detail.replaceChildren(el('div', { class: 'detail-head' }, detailTitle, close), detailVerdict, detailNote,
    el('h4', { text: 'Queue lengths' }), queues, el('h4', { text: 'Overflows, drops, SYN-ACK retransmits, RSTs per second' }), rates);
  detailChart = new TimeChart(queues, { yFormat: formatInt, whole: true });
  detailRates = new TimeChart(rates, { yFormat: formatRate, unit: '/s' });
  detail.hidden = true;

  poller = poll(() => `/api/v1/listeners${query({ netns: netnsParam(), limit: PAGE, order: 'activity' })}`, 2000, onData, onError);
  on('netns', () => {
    select(null);
    body.replaceChildren();
    poller.refresh();
  });
  on('restart', () => poller.refresh());
}

// the host may have 20,000 listeners: the table shows the most active, and says how many more there are
const PAGE = 200;

function onData(data) {
  rows = data.listeners ?? [];
  const total = data.page?.total ?? rows.length;
  note.textContent = total > rows.length
    ? `Showing the ${formatInt(rows.length)} most active of ${formatInt(total)} listeners (${formatInt(total - rows.length)} more not shown).`
    : '';
  render();
}

function onError(e) {
  note.textContent = e.status === 404
    ? 'This agent does not report listeners yet (GET /api/v1/listeners answered 404).'
    : `Listeners unavailable: ${e.message}`;
}

function render() {
  const col = COLUMNS.find((c) => c.key === sort.key) ?? COLUMNS[0];
  const sorted = rows.slice().sort((a, b) => {
    const x = col.sort(a);
    const y = col.sort(b);
    const c = x < y ? -1 : x > y ? 1 : a.port - b.port;
    return sort.asc ? c : -c;
  });
  markSort();
  if (!sorted.length) {
    body.replaceChildren(emptyRow(COLUMNS.length, 'no listening sockets in this view'));
    return;
  }
  body.replaceChildren(...sorted.map(row));
}

function row(l) {
  const key = `${l.netns}|${l.addr}|${l.port}`;
  const tr = el('tr', {
    tabindex: 0,
    class: `verdict-${l.verdict}`,
    'data-testid': 'listener-row',
    dataset: { port: l.port, netns: l.netns, addr: l.addr, verdict: l.verdict, key },
    'aria-selected': selected && key === selected.key ? 'true' : 'false',
  });
  const owner = el('td', { dataset: { field: 'owner' }, title: formatHolders(l.owner) },
    el('span', { class: 'comm', text: formatOwner(l.owner) }));
  if (l.owner?.unit) owner.append(el('span', { class: 'unit muted', title: l.owner.unit, text: l.owner.unit }));
  tr.append(
    el('td', { dataset: { field: 'listener' }, text: endpoint(l.addr, l.port) }),
    el('td', { class: 'num', dataset: { field: 'netns' }, text: String(l.netns) }),
    el('td', { dataset: { field: 'acceptQueue' } },
      bar(l.acceptQueue, l.acceptQueueMax, { warn: 0.5, crit: 1 })),
    el('td', { dataset: { field: 'synQueue' } }, bar(l.synQueue, l.synQueueMax, { warn: 0.25, crit: 0.75 })),
    el('td', { class: `num${l.overflows > 0 ? ' alarm' : ''}`, dataset: { field: 'overflows' }, text: formatInt(l.overflows) }),
    el('td', { class: `num${l.drops > 0 ? ' alarm' : ''}`, dataset: { field: 'drops' }, text: formatInt(l.drops) }),
    el('td', { class: 'num', dataset: { field: 'synAckRetransmits' }, text: formatInt(l.synAckRetransmits) }),
    el('td', { class: 'num', dataset: { field: 'resetsSent' }, text: formatInt(l.resetsSent ?? 0) }),
    owner,
    el('td', { dataset: { field: 'verdict' } },
      el('span', { class: `verdict ${l.verdict}`, title: VERDICT_SENTENCE[l.verdict] ?? '',
        text: VERDICT_TEXT[l.verdict] ?? String(l.verdict) })),
    el('td', { class: 'num', dataset: { field: 'accepted' }, text: formatInt(l.accepted) }),
    el('td', { class: 'num', dataset: { field: 'connections' },
      text: l.states === undefined ? '–' : formatStates(l.states) || 'none' }),
    el('td', { class: 'num', dataset: { field: 'retransmits' }, text: formatInt(l.retransmits),
      title: l.retransmitRatio === null || l.retransmitRatio === undefined ? null
        : `${formatPercent(l.retransmitRatio)} of the segments sent` }),
    el('td', { class: 'num', dataset: { field: 'bytesSent' }, text: formatBytes(l.bytesSent) }),
    el('td', { class: 'num', dataset: { field: 'bytesReceived' }, text: formatBytes(l.bytesReceived) }),
    el('td', { class: 'num', dataset: { field: 'rtt' }, title: l.rtt?.count > 0 ? `${formatInt(l.rtt.count)} RTT samples` : null,
      text: rtt(l, 'p50') === null ? '–' : `${formatMs(rtt(l, 'p50'))} / ${formatMs(rtt(l, 'p99'))}` }),
  );
  const open = () => select({ key, netns: l.netns, addr: l.addr, port: l.port, owner: l.owner, verdict: l.verdict });
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open();
    }
  });
  return tr;
}

function select(listener) {
  selected = listener;
  if (detailPoll) detailPoll.stop();
  detailPoll = null;
  for (const tr of body.rows) tr.setAttribute('aria-selected', String(!!listener && tr.dataset.key === listener.key));
  if (!listener) {
    detail.hidden = true;
    return;
  }
  detail.hidden = false;
  detail.dataset.port = listener.port;
  detailTitle.textContent = `Listener ${endpoint(listener.addr, listener.port)} in net:[${listener.netns}] — ${formatOwner(listener.owner)}`;
  detailVerdict.textContent = VERDICT_SENTENCE[listener.verdict] ?? '';
  detailNote.textContent = 'loading…';
  const path = () => `/api/v1/history/listener${query({ netns: listener.netns, addr: listener.addr, port: listener.port,
    seconds: state.range })}`;
  detailPoll = poll(path, 2000, drawDetail, (e) => {
    detailNote.textContent = e.status === 404 ? 'no history for this listener yet' : `history unavailable: ${e.message}`;
  });
  detail.scrollIntoView({ block: 'nearest' });
}

function drawDetail(h) {
  detailNote.textContent = `accept queue limit ${h.acceptQueueMax}, SYN queue limit ${h.synQueueMax}`;
  detailChart.update(h.time, [
    { name: 'accept queue', values: h.acceptQueue, color: '#8b5cf6' },
    { name: 'SYN queue', values: h.synQueue, color: '#06b6d4' },
  ]);
  detailRates.update(h.time, [
    { name: 'overflows', values: h.overflows, color: '#dc2626' },
    { name: 'drops', values: h.drops, color: '#f59e0b' },
    { name: 'SYN-ACK retransmits', values: h.synAckRetransmits, color: '#3b82f6' },
    { name: 'RSTs sent', values: h.resetsSent, color: '#ec4899' },
  ]);
}
