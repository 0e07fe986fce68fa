// The live page: state counts, health banner and event tail.
// Every string from the kernel or the agent goes into the page through textContent.

import { openStream } from './api.js';

const MAX_ROWS = 200;

const netnsSelect = document.getElementById('netns');
const banner = document.getElementById('banner');
const conn = document.getElementById('conn');
const eventsBody = document.getElementById('events');
const droppedNote = document.getElementById('dropped');

let stream = null;
let droppedTotal = 0;

function start() {
  netnsSelect.addEventListener('change', () => {
    eventsBody.replaceChildren();
    droppedTotal = 0;
    droppedNote.textContent = '';
    connect(netnsSelect.value);
  });
  connect('');
}

function connect(netns) {
  if (stream) stream.close();
  stream = openStream(netns, { onStates: renderStates, onEvent: renderEvent, onStatus: renderStatus });
}

function renderStatus(status, retryMs) {
  conn.dataset.state = status;
  conn.textContent = status === 'open'
    ? 'live'
    : `reconnecting… (next try in ${Math.round(retryMs / 1000)} s)`;
}

function renderStates(msg) {
  for (const [state, count] of Object.entries(msg.states)) {
    const el = document.getElementById(`count-${state}`);
    if (!el) continue;
    el.textContent = String(count);
    el.closest('.tile').classList.toggle('zero', count === 0);
  }
  renderNetnsOptions(msg.netns);
  renderBanner(msg.health);
  if (msg.dropped > 0) {
    droppedTotal += msg.dropped;
    droppedNote.textContent = `(${droppedTotal} not shown: more than the stream's rate limit)`;
  }
}

/** Keeps the options in step with the agent's list, without losing the selection. */
function renderNetnsOptions(inodes) {
  const wanted = inodes.map(String);
  const present = [...netnsSelect.options].slice(1).map((o) => o.value);
  if (wanted.join(',') === present.join(',')) return;
  const selected = netnsSelect.value;
  const options = [netnsSelect.options[0]];
  for (const inode of wanted) {
    const option = document.createElement('option');
    option.value = inode;
    option.textContent = `net:[${inode}]`;
    options.push(option);
  }
  if (selected && !wanted.includes(selected)) {
    const gone = document.createElement('option');
    gone.value = selected;
    gone.textContent = `net:[${selected}] (gone)`;
    options.push(gone);
  }
  netnsSelect.replaceChildren(...options);
  netnsSelect.value = selected;
}

function renderBanner(health) {
  const messages = [];
  if (health.status !== 'ok') {
    const cause = health.probe.cause ? `: ${health.probe.cause}` : '';
    messages.push(`Degraded: the eBPF probe is unavailable${cause}. `
      + `Counts come from ${health.probe.mode}; live events are missing.`);
  }
  const { lost, sampledOut } = health.events;
  if (lost > 0 || sampledOut > 0) {
    messages.push(`The event tail is incomplete: ${lost} events lost, ${sampledOut} sampled out `
      + `(sampling 1:${health.events.samplingRatio}). State counts stay exact.`);
  }
  banner.hidden = messages.length === 0;
  banner.dataset.level = health.status === 'ok' ? 'warning' : 'degraded';
  banner.replaceChildren(...messages.map((text) => {
    const p = document.createElement('p');
    p.textContent = text;
    return p;
  }));
}

function renderEvent(e) {
  const row = document.createElement('tr');
  row.dataset.kind = e.kind;
  const transition = e.kind === 'STATE' ? `${e.from} → ${e.to}` : `${e.kind} (${e.from} → ${e.to})`;
  const process = e.pid === null ? e.comm : `${e.comm} (${e.pid})`;
  for (const text of [
    formatTime(e.time),
    String(e.netns),
    endpoint(e.local, e.localPort),
    endpoint(e.remote, e.remotePort),
    transition,
    formatMillis(e.prevStateMs),
    process,
  ]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  row.title = `socket ${e.sockId}, cgroup ${e.cgroupId}`;
  eventsBody.prepend(row);
  while (eventsBody.rows.length > MAX_ROWS) eventsBody.lastElementChild.remove();
}

function endpoint(address, port) {
  if (address === null) return '';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function formatTime(iso) {
  const d = new Date(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function formatMillis(ms) {
  if (ms === null) return '';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

start();
