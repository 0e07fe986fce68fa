// The page: wires the live stream and the views together, and owns the header (namespace
// selector, connection status, theme, view tabs) and the health banner.
// Every string from the kernel or the agent goes into the page through textContent.

import { openStream, fetchJson, query } from './api.js';
import { state, on, emit } from './state.js';
import * as stateMachine from './views/stateMachine.js';
import * as history from './views/history.js';
import * as listeners from './views/listeners.js';
import * as destinations from './views/destinations.js';
import * as timewait from './views/timewait.js';
import * as closewait from './views/closewait.js';
import * as events from './views/events.js';
import * as alerts from './views/alerts.js';
import * as latency from './views/latency.js';
import { resizeAll, restyleAll } from './views/charts.js';
import { formatClock, formatInt } from './views/dom.js';

const $ = (id) => document.getElementById(id);

const VIEWS = ['overview', 'listeners', 'destinations', 'timewait', 'closewait', 'events', 'alerts', 'latency'];

const netnsSelect = $('netns');
const banner = $('banner');
const featureSummary = $('probe-features-summary');
const featureList = $('probe-features-list');
const conn = $('conn');

let stream = null;
let eventFilter = { port: '', state: '', peer: '' };

function start() {
  const params = new URLSearchParams(location.search);
  state.netns = params.get('netns') ?? '';
  if (state.netns) addNetnsOption(state.netns);
  netnsSelect.value = state.netns;
  netnsSelect.addEventListener('change', () => selectNetns(netnsSelect.value));

  setupTheme();
  setupNav();

  stateMachine.mount($('state-machine'));
  history.mount({ statesBox: $('chart-states'), ratesBox: $('chart-transitions'), rangeSelect: $('range'),
    pause: $('charts-pause'), status: $('history-status') });
  listeners.mount({ table: $('listeners-table'), status: $('listeners-status'), detailBox: $('listener-detail') });
  destinations.mount({ table: $('destinations-table'), status: $('destinations-status') });
  timewait.mount({ summaryBox: $('timewait-summary'), remoteTable: $('timewait-remote'),
    portsTable: $('timewait-ports'), status: $('timewait-status') });
  closewait.mount({ table: $('closewait-table'), totalEl: $('closewait-total'), status: $('closewait-status') });
  events.mount({ tbody: $('events'), form: $('event-filter'), pause: $('events-pause'), pausedEl: $('events-paused'),
    droppedEl: $('dropped'), onFilter: (f) => {
      eventFilter = f;
      connect();
    } });
  alerts.mount({ firing: $('alerts-firing'), recent: $('alerts-recent'), pending: $('alerts-pending'),
    status: $('alerts-status'), navBadge: $('alerts-badge'), overviewStrip: $('alerts-strip') });
  latency.mount({ container: $('latency-panels'), status: $('latency-status') });

  on('states', renderTiles);
  connect();

  // A page kept in the back/forward cache keeps its connections open: its stream would hold
  // one of the six a browser gives a host, and a few such pages starve the page in front.
  window.addEventListener('pagehide', () => {
    if (stream) stream.close();
    stream = null;
  });
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) connect();
  });
}

function selectNetns(netns) {
  state.netns = netns;
  const url = new URL(location.href);
  if (netns) url.searchParams.set('netns', netns);
  else url.searchParams.delete('netns');
  window.history.replaceState(null, '', url);
  events.clear();
  clearTiles();
  emit('netns');
  connect();
}

function connect() {
  if (stream) stream.close();
  stream = openStream({ netns: state.netns, ...eventFilter }, {
    onStates,
    onEvent: events.add,
    onStatus: renderStatus,
  });
}

function onStates(msg) {
  const started = msg.health?.startedMillis ?? null;
  const restarted = state.startedMillis !== null && started !== null && started !== state.startedMillis;
  state.startedMillis = started;
  state.live = msg;
  document.body.dataset.agentStarted = String(started);
  renderNetnsOptions(msg.netns);
  renderBanner(msg.health);
  renderFeatures(msg.health.probe.features || []);
  events.addDropped(msg.dropped ?? 0);
  if (restarted) {
    events.mark(`agent restarted at ${new Date(started).toLocaleTimeString()}: counts and history start again`);
    emit('restart');
  }
  emit('states', msg);
}

function renderStatus(status, retryMs) {
  if (status === 'open') backfillEvents();
  state.connection = status;
  conn.dataset.state = status;
  conn.textContent = status === 'open'
    ? 'live'
    : `reconnecting… (next try in ${Math.round(retryMs / 1000)} s)`;
  emit('connection', status);
}

/** What happened just before the page (or the agent) started: the tail is not empty on arrival. */
async function backfillEvents() {
  const filter = { netns: state.netns, ...eventFilter };
  try {
    const body = await fetchJson(`/api/v1/events${query({ ...filter, limit: 100 })}`);
    if (JSON.stringify(filter) === JSON.stringify({ netns: state.netns, ...eventFilter })) events.backfill(body.events);
  } catch {
    // the live tail goes on without them
  }
}

function renderTiles() {
  for (const [name, count] of Object.entries(state.live.states)) {
    const tile = $(`count-${name}`);
    if (!tile) continue;
    tile.textContent = String(count);
    tile.closest('.tile').classList.toggle('zero', count === 0);
  }
}

function clearTiles() {
  for (const tile of document.querySelectorAll('.tile .count')) tile.textContent = '–';
}

function addNetnsOption(inode) {
  const option = document.createElement('option');
  option.value = inode;
  option.textContent = `net:[${inode}]`;
  netnsSelect.append(option);
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
    gone.textContent = `net:[${selected}] (not seen now)`;
    options.push(gone);
  }
  netnsSelect.replaceChildren(...options);
  netnsSelect.value = selected;
}

// every probe feature with on/off and, when off, the kernel's reason (text only: kernel words)
function renderFeatures(features) {
  const on = features.filter((f) => f.on).length;
  featureSummary.textContent = features.length === 0 ? 'probe features: none (no probe)'
    : `probe features: ${on} of ${features.length} on`;
  featureList.replaceChildren(...features.map((f) => {
    const li = document.createElement('li');
    li.dataset.on = String(f.on);
    li.textContent = f.on ? `${f.name}: on (${f.what})` : `${f.name}: off (${f.reason})`;
    return li;
  }));
}

/** Probe step failures shown after they stop: long enough to be seen, not forever. */
const RECOVERED_SHOWN_MS = 10 * 60 * 1000;

function renderBanner(health) {
  const messages = [];
  const { probe } = health;
  const outage = probe.outage || null;
  if (health.status !== 'ok' && (probe.available === false || !outage)) {
    const cause = probe.cause ? `: ${probe.cause}` : '';
    messages.push(`Degraded: the eBPF probe is unavailable${cause}. `
      + `Counts come from ${probe.mode}; live events are missing.`);
  }
  if (outage) {
    const at = (ms) => formatClock(new Date(ms));
    const exit = outage.exitAtMillis ? ` If it still fails at ${at(outage.exitAtMillis)}, the agent exits to be restarted.` : '';
    messages.push(`Degraded: collection is failing since ${at(outage.sinceMillis)}: step ${outage.step} (${outage.errno}): `
      + `${outage.message}. Retried with backoff while the other steps go on.${exit}`);
  }
  const recovered = (probe.errors || []).filter((e) => !e.failing && Date.now() - e.lastMillis < RECOVERED_SHOWN_MS);
  if (recovered.length > 0) {
    messages.push(`The probe recovered from: ${recovered.map((e) => `${e.step} ${e.errno} `
      + `(${formatInt(e.count)}×, last at ${formatClock(new Date(e.lastMillis))}: ${e.message})`).join('; ')}.`);
  }
  const off = (health.probe.features || []).filter((f) => !f.on);
  if (health.status === 'ok' && off.length > 0) {
    messages.push(`On this kernel the probe runs without: ${off.map((f) => `${f.name} (${f.reason})`).join('; ')}.`);
  }
  const { lost, sampledOut, samplingRatio } = health.events;
  if (lost > 0 || sampledOut > 0) {
    messages.push(`The event tail is incomplete: ${lost} events lost, ${sampledOut} sampled out `
      + `(sampling 1:${samplingRatio}). State counts stay exact.`);
  } else if (samplingRatio > 1) {
    messages.push(`Events are being sampled 1:${samplingRatio}: the tail and the distributions see a share of them. `
      + 'State counts stay exact.');
  }
  banner.hidden = messages.length === 0;
  banner.dataset.level = health.status === 'ok' ? 'warning' : 'degraded';
  banner.replaceChildren(...messages.map((text) => {
    const p = document.createElement('p');
    p.textContent = text;
    return p;
  }));
}

// ---- views and theme ----

function setupNav() {
  const show = () => {
    const wanted = location.hash.slice(1);
    const view = VIEWS.includes(wanted) ? wanted : 'overview';
    document.body.dataset.view = view;
    for (const section of document.querySelectorAll('main > section[data-view]')) {
      section.classList.toggle('active', section.dataset.view === view);
    }
    for (const a of document.querySelectorAll('nav.views a')) {
      if (a.getAttribute('href') === `#${view}`) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    requestAnimationFrame(resizeAll); // charts drawn while hidden had no width
  };
  window.addEventListener('hashchange', show);
  show();
}

function setupTheme() {
  const button = $('theme');
  const apply = (theme) => {
    if (theme === 'auto') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    button.textContent = `theme: ${theme}`;
    button.dataset.theme = theme;
    restyleAll();
  };
  let theme = 'auto';
  try {
    theme = localStorage.getItem('tcpulse.theme') ?? 'auto';
  } catch {
    // storage may be off
  }
  apply(theme);
  button.addEventListener('click', () => {
    const next = { auto: 'dark', dark: 'light', light: 'auto' }[button.dataset.theme] ?? 'auto';
    try {
      localStorage.setItem('tcpulse.theme', next);
    } catch {
      // storage may be off
    }
    apply(next);
  });
}

start();
