// Small DOM and formatting helpers shared by the views.
// Text always goes in through textContent: kernel strings (comm, cgroup paths, unit
// names) are whatever a process chose to call itself.

/**
 * el('td', { class: 'num', dataset: { field: 'overflows' } }, 'text', childNode, ...)
 * Strings become text nodes; null and undefined children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A fill bar: value/max, class by level; the width is set through the CSSOM (CSP allows it). */
export function bar(value, max, { warn = 0.5, crit = 0.9, label } = {}) {
  const ratio = max > 0 ? value / max : 0;
  const level = ratio >= crit ? 'crit' : ratio >= warn ? 'warn' : 'ok';
  const fill = el('span', { class: 'bar-fill' });
  fill.style.width = `${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%`;
  return el('span', { class: `bar ${level}`, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': max,
    'aria-valuenow': value, dataset: { ratio: ratio.toFixed(3) } },
  fill, el('span', { class: 'bar-text', text: label ?? `${value} / ${max}` }));
}

export function endpoint(address, port) {
  if (address === null || address === undefined) return '';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function formatInt(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

/** A rate per second, short: 0, 0.3, 12, 1.2k, 3.4M. */
export function formatRate(r) {
  if (!r) return '0';
  if (r < 1) return r.toFixed(2).replace(/0$/, '');
  if (r < 100) return r.toFixed(r < 10 ? 1 : 0).replace(/\.0$/, '');
  if (r < 1e3) return r.toFixed(0);
  if (r < 1e6) return `${(r / 1e3).toFixed(r < 1e4 ? 1 : 0)}k`;
  return `${(r / 1e6).toFixed(1)}M`;
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Bytes in binary units, three digits: 512 B, 1.50 KiB, 12.3 MiB, 512 GiB. */
export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (Math.abs(n) < 1024) return `${Math.round(n)} B`;
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (Math.abs(v) >= 1023.5 && i < BYTE_UNITS.length - 1); // 1023.6 KiB reads 1.00 MiB, not 1024 KiB
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${BYTE_UNITS[i]}`;
}

/** Seconds as milliseconds, three digits: 0.045 ms, 3.10 ms, 12.5 ms, 1,500 ms; '–' for none. */
export function formatMs(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  const ms = s * 1e3;
  const digits = ms < 1 ? 3 : ms < 10 ? 2 : ms < 100 ? 1 : 0;
  return `${ms.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ms`;
}

/** A ratio as a percentage: 0.05 -> 5.0%; '–' for none; tiny ones are not rounded to 0. */
export function formatPercent(r) {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–';
  const p = r * 100;
  if (p > 0 && p < 0.01) return '<0.01%';
  return `${p.toFixed(p > 0 && p < 0.1 ? 2 : 1)}%`;
}

/** The states in the kernel's order (TcpState.COUNTED), for "ESTABLISHED 12 · CLOSE_WAIT 3" lists. */
const STATE_ORDER = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];

/**
 * Sockets by state, compact: "ESTABLISHED 12 · CLOSE_WAIT 3"; the states in `always` are
 * listed even at 0, the others only when there are some. '' when there is nothing to list.
 */
export function formatStates(states, always = []) {
  const s = states ?? {};
  const names = [...STATE_ORDER, ...Object.keys(s).filter((k) => !STATE_ORDER.includes(k)).sort()];
  return names.filter((k) => always.includes(k) || (s[k] ?? 0) > 0)
    .map((k) => `${k} ${formatInt(s[k] ?? 0)}`).join(' · ');
}

/** The sum of a "states" object's counts. */
export function stateTotal(states) {
  return Object.values(states ?? {}).reduce((a, n) => a + (Number(n) || 0), 0);
}

export function formatSeconds(s) {
  if (s === null || s === undefined) return '–';
  if (s < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function formatMillis(ms) {
  return ms === null || ms === undefined ? '' : formatSeconds(ms / 1000);
}

export function formatClock(date) {
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function formatTime(iso) {
  const d = new Date(iso);
  return `${formatClock(d)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** "curl (4242)", "curl", "pid 4242" or "unknown"; "nginx (10) +2 holders" where several processes hold it. */
export function formatOwner(owner) {
  if (!owner) return 'unknown';
  if (Array.isArray(owner.holders) && owner.holders.length === 0) return 'no process (not accepted or orphaned)';
  const comm = owner.comm || '';
  const pid = owner.pid || 0;
  const more = Array.isArray(owner.holders) && owner.holders.length > 1 ? ` +${owner.holders.length - 1} holders` : '';
  if (comm && pid) return `${comm} (${pid})${more}`;
  if (comm) return comm + more;
  if (pid) return `pid ${pid}${more}`;
  return 'unknown';
}

/** Every holder, one per line, for a title attribute: "nginx (10, created it)". */
export function formatHolders(owner) {
  if (!owner || !Array.isArray(owner.holders) || owner.holders.length < 2) return null;
  return owner.holders.map((h) => `${h.comm || 'pid'} (${h.pid}${h.creator ? ', created it' : ''})`).join('\n');
}

/** A table's "nothing here" row, or a note in place of a view's content. */
/**
 * Fills a table's head with sorting buttons: a click sorts by that column, another click
 * reverses (numbers start with the largest). sort is {key, asc}, changed in place; onSort
 * redraws. Returns what marks the heads' aria-sort after a redraw.
 */
export function sortableHead(headRow, columns, sort, onSort) {
  const heads = columns.map((c) => {
    const button = el('button', { type: 'button', class: 'sort', dataset: { sort: c.key } }, c.title);
    const th = el('th', { scope: 'col', class: c.num ? 'num' : null, 'aria-sort': 'none', dataset: { key: c.key } }, button);
    button.addEventListener('click', () => {
      if (sort.key === c.key) sort.asc = !sort.asc;
      else {
        sort.key = c.key;
        sort.asc = !c.num;
      }
      onSort();
    });
    return th;
  });
  headRow.replaceChildren(...heads);
  return () => {
    for (const th of heads) {
      th.setAttribute('aria-sort', th.dataset.key === sort.key ? (sort.asc ? 'ascending' : 'descending') : 'none');
    }
  };
}

export function emptyRow(columns, text) {
  return el('tr', { class: 'empty' }, el('td', { colspan: columns, text }));
}

/** Colours of the TCP states, shared by the state machine and the charts (CSS has them too). */
export const STATE_COLORS = {
  ESTABLISHED: '#2e9e5b',
  SYN_SENT: '#3b82f6',
  SYN_RECV: '#06b6d4',
  NEW_SYN_RECV: '#67e8f9',
  LISTEN: '#8b5cf6',
  FIN_WAIT1: '#f59e0b',
  FIN_WAIT2: '#d97706',
  CLOSING: '#ef4444',
  TIME_WAIT: '#a16207',
  CLOSE_WAIT: '#dc2626',
  LAST_ACK: '#ec4899',
};

/** A stable colour for any other series, from its name. */
export function colorFor(name) {
  if (STATE_COLORS[name]) return STATE_COLORS[name];
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 65% 50%)`;
}
