// The TCP state machine as the seeds draw it (RFC 793 / Stevens): every state with its
// live count, every edge with its live transition rate; the hotter the edge, the
// thicker and redder it is drawn.

import { state, on, latestRates, timeWaitExitRate } from '../state.js';
import { svg, el, formatInt, formatRate } from './dom.js';

const W = 156;
const H = 56;

/** Node positions (centres) in a 960 x 700 drawing. CLOSED appears twice, as in the seeds. */
const NODES = {
  CLOSED: [480, 40],
  LISTEN: [480, 150],
  SYN_RECV: [180, 260],
  SYN_SENT: [780, 260],
  ESTABLISHED: [480, 360],
  FIN_WAIT1: [180, 470],
  CLOSING: [480, 470],
  CLOSE_WAIT: [780, 470],
  FIN_WAIT2: [180, 590],
  TIME_WAIT: [480, 590],
  LAST_ACK: [780, 590],
  CLOSED_END: [780, 672],
};

/**
 * Edges: from, to (drawing nodes), the event/action label of the seeds, and which
 * kernel transitions feed the rate (see edgeRates). offset shifts a line sideways when
 * the reverse edge is drawn too; labelAt places its label along the line (0.5: middle).
 */
const EDGES = [
  { from: 'CLOSED', to: 'LISTEN', label: 'passive open', offset: -10 },
  { from: 'LISTEN', to: 'CLOSED', label: 'close', offset: -10 },
  { from: 'CLOSED', to: 'SYN_SENT', label: 'active open / SYN', offset: -9 },
  { from: 'SYN_SENT', to: 'CLOSED', label: 'timeout / RST', offset: -9, labelAt: 0.22 },
  { from: 'LISTEN', to: 'SYN_RECV', label: 'SYN / SYN+ACK' },
  { from: 'SYN_SENT', to: 'SYN_RECV', label: 'simultaneous open' },
  { from: 'SYN_RECV', to: 'ESTABLISHED', label: 'ACK' },
  { from: 'SYN_SENT', to: 'ESTABLISHED', label: 'SYN+ACK / ACK' },
  { from: 'ESTABLISHED', to: 'FIN_WAIT1', label: 'close / FIN' },
  { from: 'ESTABLISHED', to: 'CLOSE_WAIT', label: 'FIN / ACK' },
  { from: 'FIN_WAIT1', to: 'FIN_WAIT2', label: 'ACK' },
  { from: 'FIN_WAIT1', to: 'CLOSING', label: 'FIN / ACK' },
  { from: 'FIN_WAIT1', to: 'TIME_WAIT', label: 'FIN+ACK / ACK' },
  { from: 'FIN_WAIT2', to: 'TIME_WAIT', label: 'FIN / ACK' },
  { from: 'CLOSING', to: 'TIME_WAIT', label: 'ACK' },
  { from: 'CLOSE_WAIT', to: 'LAST_ACK', label: 'close / FIN' },
  { from: 'LAST_ACK', to: 'CLOSED_END', label: 'ACK' },
  { from: 'TIME_WAIT', to: 'CLOSED_END', label: '2MSL timeout', estimated: true },
];

const CLOSERS = ['FIN_WAIT1', 'FIN_WAIT2', 'CLOSING'];
const stateOf = (node) => (node === 'CLOSED_END' ? 'CLOSED' : node);
const kernelName = (s) => (s === 'CLOSED' ? 'CLOSE' : s);
const edgeId = (e) => `${stateOf(e.from)}-${stateOf(e.to)}`;

let root;
let countEls = {};
let halfOpenEl;
let edgeEls = [];
let otherList;

export function mount(container) {
  root = container;
  const drawing = svg('svg', {
    viewBox: '0 0 960 700', class: 'state-machine', role: 'img',
    'aria-label': 'TCP state machine with live socket counts and transition rates',
    'data-testid': 'state-machine',
  });
  const defs = svg('defs');
  for (let heat = 0; heat <= 5; heat++) {
    const marker = svg('marker', {
      id: `arrow-${heat}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse',
      markerWidth: 11 + heat, markerHeight: 11 + heat, orient: 'auto-start-reverse', class: `arrowhead heat-${heat}`,
    });
    marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
    defs.append(marker);
  }
  drawing.append(defs);

  const edgeLayer = svg('g', { class: 'edges' });
  const labelLayer = svg('g', { class: 'edge-labels' });
  edgeEls = EDGES.map((e) => {
    const [x1, y1, x2, y2] = clip(NODES[e.from], NODES[e.to], e.offset ?? 0);
    const id = edgeId(e);
    const line = svg('line', { x1, y1, x2, y2, class: 'edge heat-0', 'marker-end': 'url(#arrow-0)',
      'data-edge': id });
    line.append(svg('title', {}, `${stateOf(e.from)} → ${stateOf(e.to)}: ${e.label}`));
    edgeLayer.append(line);
    // a label sits on the line, or beside it on its own side when the reverse edge is drawn too
    const [sx, sy] = side(NODES[e.from], NODES[e.to], e.offset ?? 0);
    const anchor = sx > 0.3 ? 'start' : sx < -0.3 ? 'end' : 'middle';
    const at = e.labelAt ?? 0.5;
    const mx = x1 + (x2 - x1) * at + sx * 8;
    const my = y1 + (y2 - y1) * at + sy * 8;
    const label = svg('g', { class: 'edge-label', transform: `translate(${mx} ${my})` });
    const event = svg('text', { class: 'edge-event', y: -4, 'text-anchor': anchor }, e.label);
    const rate = svg('text', { class: 'edge-rate', y: 12, 'text-anchor': anchor, id: `sm-rate-${id}`,
      'data-testid': `rate-${id}` }, '0/s');
    label.append(event, rate);
    labelLayer.append(label);
    return { edge: e, line, rate, id };
  });
  drawing.append(edgeLayer);

  const nodeLayer = svg('g', { class: 'nodes' });
  countEls = {};
  for (const [node, [x, y]] of Object.entries(NODES)) {
    const name = stateOf(node);
    const g = svg('g', { class: 'node', transform: `translate(${x - W / 2} ${y - H / 2})`, 'data-state': name,
      id: node === 'CLOSED_END' ? 'sm-CLOSED-end' : `sm-${name}` });
    g.append(svg('rect', { width: W, height: H, rx: 10 }));
    g.append(svg('text', { x: W / 2, y: 22, class: 'node-name', 'text-anchor': 'middle' }, name));
    const count = svg('text', { x: W / 2, y: 45, class: 'node-count', 'text-anchor': 'middle' },
      name === 'CLOSED' ? '' : '–');
    if (name !== 'CLOSED') {
      count.id = `sm-count-${name}`;
      countEls[name] = { count, g };
    }
    g.append(count);
    if (name === 'SYN_RECV') {
      halfOpenEl = svg('text', { x: W / 2, y: H + 17, class: 'node-note', 'text-anchor': 'middle',
        id: 'sm-half-open' }, '');
      g.append(halfOpenEl);
    }
    nodeLayer.append(g);
  }
  drawing.append(nodeLayer, labelLayer);

  otherList = el('ul', { class: 'other-transitions', id: 'sm-other', 'data-testid': 'other-transitions' });
  root.replaceChildren(drawing, el('div', { class: 'sm-other' },
    el('h3', { text: 'Other transitions (aborts, resets)' }), otherList));

  on('states', renderCounts);
  on('history', renderRates);
  on('netns', () => {
    for (const { count } of Object.values(countEls)) count.textContent = '–';
  });
}

/** Unit vector towards the side a shifted edge is drawn on; (0, 0) for an edge on the axis. */
function side([x1, y1], [x2, y2], offset) {
  if (!offset) return [0, 0];
  const len = Math.hypot(x2 - x1, y2 - y1);
  const sign = Math.sign(offset);
  return [(-(y2 - y1) / len) * sign, ((x2 - x1) / len) * sign];
}

/** The line between two boxes, from border to border, shifted sideways by offset. */
function clip([x1, y1], [x2, y2], offset) {
  const dx = x2 - x1;
  const dy = y2 - y1;
  const len = Math.hypot(dx, dy);
  const nx = -dy / len;
  const ny = dx / len;
  const ox = nx * offset;
  const oy = ny * offset;
  // how far along the line the box border is, for a box of W x H (plus a small gap)
  const t = (ux, uy) => Math.min(ux ? (W / 2 + 4) / Math.abs(ux) : Infinity, uy ? (H / 2 + 4) / Math.abs(uy) : Infinity);
  const ux = dx / len;
  const uy = dy / len;
  const a = t(ux, uy);
  return [x1 + ux * a + ox, y1 + uy * a + oy, x2 - ux * a + ox, y2 - uy * a + oy].map((v) => Math.round(v * 10) / 10);
}

function renderCounts() {
  const counts = state.live?.states;
  if (!counts) return;
  for (const [name, { count, g }] of Object.entries(countEls)) {
    const n = counts[name] ?? 0;
    count.textContent = formatInt(n);
    g.classList.toggle('busy', n > 0);
  }
  const half = counts.NEW_SYN_RECV ?? 0;
  halfOpenEl.textContent = half > 0 ? `+${formatInt(half)} half-open (SYN queue)` : '';
}

/**
 * Rates per drawn edge from the kernel's transitions (per second, newest sample):
 * - X -> TIME_WAIT: timewait hand-overs (derived) from X; an orphaned FIN_WAIT2 hand-over
 *   (derived X -> FIN_WAIT2) is counted on FIN_WAIT2 -> TIME_WAIT, where it ends;
 * - X -> CLOSED for a closing state: the kernel's X -> CLOSE minus the hand-overs above
 *   (what is left are aborts);
 * - TIME_WAIT -> CLOSED: estimated, the kernel does not report expiries;
 * - everything else: the kernel's transition of the same name.
 * Whatever no edge takes is listed beside the drawing.
 */
export function edgeRates(rates) {
  const raw = new Map();
  const derived = new Map();
  for (const [key, rate] of rates) {
    const derivedKey = key.endsWith('*');
    const [from, to] = key.replace('*', '').split('>');
    (derivedKey ? derived : raw).set(`${from}>${to}`, rate);
  }
  const used = new Set();
  const take = (map, key) => {
    used.add((map === derived ? 'd:' : 'r:') + key);
    return map.get(key) ?? 0;
  };
  const out = new Map();
  for (const e of EDGES) {
    const from = stateOf(e.from);
    const to = stateOf(e.to);
    let r;
    if (e.estimated) {
      r = null;
    } else if (to === 'TIME_WAIT') {
      r = take(derived, `${from}>TIME_WAIT`);
      if (from === 'FIN_WAIT2') {
        for (const key of derived.keys()) if (key.endsWith('>FIN_WAIT2')) r += take(derived, key);
      }
    } else if (to === 'CLOSED' && CLOSERS.includes(from)) {
      r = take(raw, `${from}>CLOSE`);
    } else {
      r = take(raw, `${kernelName(from)}>${kernelName(to)}`);
    }
    out.set(edgeId(e), r);
  }
  // hand-overs are not aborts: X -> CLOSE of a closing state counts them too
  for (const from of CLOSERS) {
    let handovers = 0;
    for (const [key, r] of derived) if (key.startsWith(`${from}>`)) handovers += r;
    const closeRate = take(raw, `${from}>CLOSE`);
    const aborts = Math.max(0, closeRate - handovers);
    if (aborts > 0) out.set(`${from}-CLOSED`, aborts);
  }
  const others = [];
  for (const [key, r] of raw) if (!used.has(`r:${key}`) && r > 0) others.push({ key, r, derived: false });
  for (const [key, r] of derived) if (!used.has(`d:${key}`) && r > 0) others.push({ key, r, derived: true });
  for (const from of CLOSERS) if (out.has(`${from}-CLOSED`)) others.push({ key: `${from}>CLOSE`, r: out.get(`${from}-CLOSED`), derived: false, abort: true });
  others.sort((a, b) => b.r - a.r);
  return { edges: out, others };
}

/** Heat 0 (idle) .. 5 by order of magnitude of the rate per second. */
export function heatOf(r) {
  if (!r || r <= 0) return 0;
  if (r < 1) return 1;
  if (r < 10) return 2;
  if (r < 100) return 3;
  if (r < 1000) return 4;
  return 5;
}

function renderRates() {
  const { edges, others } = edgeRates(latestRates());
  const exit = timeWaitExitRate();
  for (const { edge, line, rate, id } of edgeEls) {
    const r = edge.estimated ? exit : edges.get(id) ?? 0;
    const heat = heatOf(r ?? 0);
    line.setAttribute('class', `edge heat-${heat}${edge.estimated ? ' estimated' : ''}`);
    line.setAttribute('marker-end', `url(#arrow-${heat})`);
    line.dataset.rate = String(r ?? 0);
    rate.textContent = r === null ? '≈ ?/s' : `${edge.estimated ? '≈ ' : ''}${formatRate(r)}/s`;
    rate.setAttribute('class', `edge-rate heat-${heat}`);
  }
  otherList.replaceChildren(...(others.length ? others.map((o) => {
    const [from, to] = o.key.split('>');
    const what = o.abort ? ' (abort)' : o.derived ? ' (timewait hand-over)' : '';
    return el('li', { class: `heat-${heatOf(o.r)}`, dataset: { transition: o.key } },
      `${from === 'CLOSE' ? 'CLOSED' : from} → ${to === 'CLOSE' ? 'CLOSED' : to}${what}: ${formatRate(o.r)}/s`);
  }) : [el('li', { class: 'muted', text: 'none in the last second' })]));
}
