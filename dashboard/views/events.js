// The live event tail: state changes as the kernel reports them, newest on top,
// filtered by the agent (netns, port, state, peer), pausable. Process names are text.

import { el, endpoint, formatMillis, formatTime } from './dom.js';

const MAX_ROWS = 200;

let body;
let pausedNote;
let droppedNote;
let paused = false;
let held = [];
let heldTotal = 0;
let droppedTotal = 0;

/**
 * form: the filter form (inputs port, state, peer); onFilter(filter) is called when the
 * user applies a filter, so the owner of the stream can reopen it.
 */
export function mount({ tbody, form, pause, pausedEl, droppedEl, onFilter }) {
  body = tbody;
  pausedNote = pausedEl;
  droppedNote = droppedEl;
  const apply = (e) => {
    e?.preventDefault();
    const data = new FormData(form);
    clear();
    onFilter({ port: data.get('port').trim(), state: data.get('state'), peer: data.get('peer').trim() });
  };
  form.addEventListener('submit', apply);
  form.addEventListener('reset', () => setTimeout(apply, 0));
  form.elements.state.addEventListener('change', apply);
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      const rows = held.map(row);
      held = [];
      heldTotal = 0;
      body.prepend(...rows.reverse());
      trim();
    }
    showPaused();
  });
}

export function clear() {
  body.replaceChildren();
  held = [];
  heldTotal = 0;
  droppedTotal = 0;
  droppedNote.textContent = '';
  showPaused();
}

/** A line of its own in the tail, e.g. "agent restarted". */
export function mark(text) {
  body.prepend(el('tr', { class: 'mark' }, el('td', { colspan: 7, text })));
  trim();
}

export function addDropped(n) {
  if (n <= 0) return;
  droppedTotal += n;
  droppedNote.textContent = `(${droppedTotal} not shown: more than the stream's rate limit)`;
}

export function add(e) {
  if (paused) {
    held.push(e);
    heldTotal++;
    if (held.length > MAX_ROWS) held.shift();
    showPaused();
    return;
  }
  body.prepend(row(e));
  trim();
}

/**
 * Older events fetched when the stream (re)opens (GET /api/v1/events, newest first):
 * they go below what the stream already delivered, without duplicates.
 */
export function backfill(list) {
  const present = new Set([...body.rows].map((tr) => tr.dataset.key));
  const rows = [];
  for (const e of list) {
    if (!present.has(keyOf(e)) && body.rows.length + rows.length < MAX_ROWS) rows.push(row(e));
  }
  body.append(...rows);
}

function keyOf(e) {
  return `${e.sockId}|${e.tsNs}|${e.from}|${e.to}`;
}

function trim() {
  while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
}

function showPaused() {
  pausedNote.textContent = paused ? `paused: ${heldTotal} new event${heldTotal === 1 ? '' : 's'} held back` : '';
}

function row(e) {
  const tr = el('tr', { dataset: { kind: e.kind, netns: e.netns, from: e.from, to: e.to, key: keyOf(e) } });
  const transition = e.kind === 'STATE' ? `${e.from} → ${e.to}` : `${e.kind} (${e.from} → ${e.to})`;
  const process = e.pid === null || e.pid === undefined ? (e.comm ?? '') : `${e.comm} (${e.pid})`;
  const cells = [
    ['time', formatTime(e.time)],
    ['netns', String(e.netns)],
    ['local', endpoint(e.local, e.localPort)],
    ['remote', endpoint(e.remote, e.remotePort)],
    ['transition', transition],
    ['prev', formatMillis(e.prevStateMs)],
    ['process', process],
  ];
  for (const [field, text] of cells) tr.append(el('td', { dataset: { field }, text }));
  tr.title = `socket ${e.sockId}, cgroup ${e.cgroupId}`;
  return tr;
}
