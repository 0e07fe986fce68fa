// Alerts (GET /api/v1/alerts): firing ones first, then the recent ones, each with its
// rule, labels naming the culprit, the sentence the rule wrote, its value and since when.
// Labels and sentences carry kernel strings (comm, unit): text only.

import { poll } from '../api.js';
import { on } from '../state.js';
import { el, formatClock } from './dom.js';

let firingList;
let recentList;
let pendingList;
let note;
let badge;
let strip;
let poller;

export function mount({ firing, recent, pending, status, navBadge, overviewStrip }) {
  firingList = firing;
  recentList = recent;
  pendingList = pending;
  note = status;
  badge = navBadge;
  strip = overviewStrip;
  poller = poll(() => '/api/v1/alerts', 3000, render, onError);
  on('restart', () => poller.refresh());
}

function onError(e) {
  note.textContent = e.status === 404
    ? 'This agent does not evaluate alerts yet (GET /api/v1/alerts answered 404).'
    : `Alerts unavailable: ${e.message}`;
}

function render(a) {
  note.textContent = '';
  const firing = a.firing ?? [];
  const recent = a.recent ?? [];
  const pending = a.pending ?? [];
  firingList.replaceChildren(...(firing.length ? firing.map((x) => card(x, 'firing'))
    : [el('li', { class: 'muted', text: 'nothing firing' })]));
  pendingList.replaceChildren(...(pending.length ? pending.map((x) => card(x, 'pending'))
    : [el('li', { class: 'muted', text: 'none' })]));
  recentList.replaceChildren(...(recent.length ? recent.map((x) => card(x, x.state?.toLowerCase() ?? 'resolved'))
    : [el('li', { class: 'muted', text: 'none in this agent\'s memory' })]));
  badge.textContent = firing.length ? String(firing.length) : '';
  badge.hidden = firing.length === 0;
  strip.hidden = firing.length === 0;
  strip.replaceChildren(...firing.slice(0, 5).map((x) => el('p', { class: 'alert-line' },
    el('strong', { text: ruleName(x) }), ' ', sentence(x))));
}

function ruleName(x) {
  return x.rule ?? x.labels?.alertname ?? 'alert';
}

function sentence(x) {
  const ann = x.annotations ?? {};
  return ann.summary ?? ann.description ?? x.summary ?? x.sentence ?? '';
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toLocaleDateString()} ${formatClock(d)}`;
}

function card(x, kind) {
  const labels = el('ul', { class: 'labels' });
  for (const [k, v] of Object.entries(x.labels ?? {})) {
    if (k === 'alertname') continue;
    labels.append(el('li', { class: 'label-chip', dataset: { label: k } }, el('span', { class: 'k', text: k }),
      el('span', { class: 'v', text: String(v) })));
  }
  const ann = x.annotations ?? {};
  const details = ann.description && ann.description !== sentence(x) ? el('p', { class: 'description', text: ann.description }) : null;
  const times = [];
  if (x.since) times.push(`since ${when(x.since)}`);
  if (x.resolvedAt) times.push(`resolved ${when(x.resolvedAt)}`);
  if (x.value !== undefined && x.value !== null) times.push(`value ${typeof x.value === 'number' ? +x.value.toFixed(3) : x.value}`);
  return el('li', { class: `alert ${kind}`, 'data-testid': `alert-${kind}`, dataset: { rule: ruleName(x) } },
    el('div', { class: 'alert-head' }, el('span', { class: `state ${kind}`, text: kind }),
      el('strong', { class: 'rule', text: ruleName(x) }), el('span', { class: 'muted when', text: times.join(' · ') })),
    el('p', { class: 'sentence', text: sentence(x) }), details, labels);
}
