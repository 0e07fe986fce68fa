// Destinations this host connected to (GET /api/v1/peers): sockets towards each by state,
// connects and failed connects by reason, what the connections carried (retransmits,
// bytes, RTT) and the processes that connected. In the agent's order (most active first)
// until a column header is clicked; sortable. Process names and units are text.

import { poll, query } from '../api.js';
import { on, netnsParam } from '../state.js';
import { el, emptyRow, formatBytes, formatInt, formatMs, formatOwner, formatPercent, formatStates, stateTotal, sortableHead } from './dom.js';

/** Failure reasons in the order the API documents them; one it adds later goes last. */
const REASONS = ['refused', 'timeout', 'unreachable', 'reset', 'other'];
const rank = (r) => (REASONS.includes(r) ? REASONS.indexOf(r) : REASONS.length);

const COLUMNS = [
  { key: 'netns', title: 'netns', sort: (p) => p.netns, num: true },
  { key: 'remote', title: 'remote', sort: (p) => remoteKey(p.remote) },
  { key: 'live', title: 'live sockets', sort: (p) => stateTotal(p.states), num: true },
  { key: 'connects', title: 'connects', sort: (p) => p.connects ?? 0, num: true },
  { key: 'failed', title: 'failed', sort: failedTotal, num: true },
  { key: 'failureRatio', title: 'failure ratio', sort: (p) => failureRatio(p) ?? -1, num: true },
  { key: 'retransmits', title: 'retransmits', sort: (p) => p.retransmits ?? 0, num: true },
  { key: 'bytesSent', title: 'sent', sort: (p) => p.bytesSent ?? 0, num: true },
  { key: 'bytesReceived', title: 'received', sort: (p) => p.bytesReceived ?? 0, num: true },
  { key: 'rttP50', title: 'RTT p50', sort: (p) => rtt(p, 'p50') ?? -1, num: true },
  { key: 'rttP90', title: 'RTT p90', sort: (p) => rtt(p, 'p90') ?? -1, num: true },
  { key: 'rttP99', title: 'RTT p99', sort: (p) => rtt(p, 'p99') ?? -1, num: true },
  { key: 'owners', title: 'processes', sort: (p) => (p.owners ?? []).map(formatOwner).join(' ').toLowerCase() },
];

// thousands of destinations would be a table nobody reads: the most active, and how many more
const PAGE = 200;

let body;
let note;
const sort = { key: null, asc: true }; // key null: the agent's order
let markSort = () => {};
let rows = [];
let poller;

export function mount({ table, status }) {
  body = table.tBodies[0];
  note = status;
  markSort = sortableHead(table.tHead.rows[0], COLUMNS, sort, render);

  poller = poll(() => `/api/v1/peers${query({ netns: netnsParam(), limit: PAGE })}`, 2000, onData, onError);
  on('netns', () => {
    body.replaceChildren();
    poller.refresh();
  });
  on('restart', () => poller.refresh());
}

function onData(data) {
  rows = data.peers ?? [];
  const total = data.total ?? data.page?.total ?? rows.length;
  note.textContent = total > rows.length
    ? `Showing the ${formatInt(rows.length)} most active of ${formatInt(total)} destinations (${formatInt(total - rows.length)} more not shown).`
    : '';
  render();
}

function onError(e) {
  note.textContent = e.status === 404
    ? 'This agent does not report destinations yet (GET /api/v1/peers answered 404).'
    : `Destinations unavailable: ${e.message}`;
}

/** Failed connects, every reason (a reason this page does not know included). */
function failedTotal(p) {
  return Object.values(p.failed ?? {}).reduce((a, n) => a + (Number(n) || 0), 0);
}

/** Failed connects per connect, null before any connect. */
function failureRatio(p) {
  return p.connects > 0 ? failedTotal(p) / p.connects : null;
}

/** A percentile of the RTT in seconds, null when nothing was sampled. */
function rtt(p, pct) {
  const r = p.rtt;
  if (!r || !(r.count > 0)) return null;
  const v = r[pct];
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

/** "10.0.0.7:5432" sorts before "10.0.0.10:80" by number: octets padded, IPv4 before IPv6. */
function remoteKey(remote) {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(remote ?? '');
  if (!m) return `9${remote ?? ''}`;
  const [, addr, port] = m;
  const a = addr.includes(':') ? `6${addr}` : `4${addr.split('.').map((o) => o.padStart(3, '0')).join('.')}`;
  return `${a}:${port.padStart(5, '0')}`;
}

function render() {
  const col = COLUMNS.find((c) => c.key === sort.key);
  const indexed = rows.map((p, i) => ({ p, i }));
  if (col) {
    indexed.sort((a, b) => {
      const x = col.sort(a.p);
      const y = col.sort(b.p);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return (sort.asc ? c : -c) || a.i - b.i; // ties keep the agent's order
    });
  }
  markSort();
  if (!indexed.length) {
    body.replaceChildren(emptyRow(COLUMNS.length, 'no destinations: nothing in this view connected anywhere since the agent started'));
    return;
  }
  body.replaceChildren(...indexed.map(({ p }) => row(p)));
}

/** A number with a smaller line under it (a breakdown); the line is left out when empty. */
function withSub(field, total, sub, subClass, { alarm = false } = {}) {
  return el('td', { class: `num${alarm ? ' alarm' : ''}`, dataset: { field } },
    el('span', { class: 'total', text: total }),
    el('span', { class: `sub ${subClass}` }, ...(Array.isArray(sub) ? sub : [sub])));
}

function row(p) {
  const failed = failedTotal(p);
  const reasons = [];
  const known = Object.keys(p.failed ?? {}).sort((a, b) => rank(a) - rank(b));
  for (const r of known) {
    const n = p.failed[r];
    if (!(n > 0)) continue;
    if (reasons.length) reasons.push(' · ');
    reasons.push(el('span', { dataset: { reason: r }, text: `${r} ${formatInt(n)}` }));
  }
  const ratio = failureRatio(p);
  const retransRatio = p.retransmitRatio === null || p.retransmitRatio === undefined ? ''
    : `${formatPercent(p.retransmitRatio)} of segments`;
  const rttTitle = p.rtt?.count > 0 ? `${formatInt(p.rtt.count)} RTT samples` : 'no RTT sampled yet';
  return el('tr', { 'data-testid': 'destination-row', dataset: { netns: p.netns, remote: p.remote, key: `${p.netns}|${p.remote}` } },
    el('td', { class: 'num', dataset: { field: 'netns' }, text: String(p.netns) }),
    el('td', { dataset: { field: 'remote' }, text: p.remote,
      title: p.remote === 'other' ? 'destinations past the agent\'s per-namespace bound, summed in one row' : null }),
    withSub('live', formatInt(stateTotal(p.states)), formatStates(p.states, ['ESTABLISHED', 'SYN_SENT']), 'states'),
    el('td', { class: 'num', dataset: { field: 'connects' }, text: formatInt(p.connects),
      title: p.established === undefined ? null : `${formatInt(p.established)} handshakes completed` }),
    withSub('failed', formatInt(failed), reasons, 'reasons', { alarm: failed > 0 }),
    el('td', { class: `num${ratio > 0 ? ' alarm' : ''}`, dataset: { field: 'failureRatio' }, text: formatPercent(ratio) }),
    withSub('retransmits', formatInt(p.retransmits), retransRatio, 'ratio'),
    el('td', { class: 'num', dataset: { field: 'bytesSent' }, text: formatBytes(p.bytesSent) }),
    el('td', { class: 'num', dataset: { field: 'bytesReceived' }, text: formatBytes(p.bytesReceived) }),
    ...['p50', 'p90', 'p99'].map((k) => el('td', { class: 'num', dataset: { field: `rtt${k.toUpperCase()}` }, title: rttTitle,
      text: formatMs(rtt(p, k)) })),
    ownersCell(p.owners ?? []),
  );
}

/** The processes that connected: "comm (pid)", the unit below each. */
function ownersCell(owners) {
  if (!owners.length) return el('td', { dataset: { field: 'owners' } }, el('span', { class: 'muted', text: '–' }));
  return el('td', { dataset: { field: 'owners' } }, ...owners.map((o) => el('span', { class: 'owner', dataset: { pid: o.pid } },
    el('span', { class: 'comm', text: formatOwner(o) }),
    o.unit ? el('span', { class: 'unit muted', title: o.unit, text: o.unit }) : null)));
}
