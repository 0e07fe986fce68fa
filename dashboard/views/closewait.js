// CLOSE_WAIT by owner (GET /api/v1/closewait): which process or unit holds sockets whose
// peer has closed, how many, how old the oldest is, how fast it grows, and whether it leaks.

import { poll, query } from '../api.js';
import { on, netnsParam } from '../state.js';
import { el, emptyRow, formatHolders, formatInt, formatSeconds } from './dom.js';

let body;
let total;
let note;
let poller;

export function mount({ table, totalEl, status }) {
  body = table.tBodies[0];
  total = totalEl;
  note = status;
  poller = poll(() => `/api/v1/closewait${query({ netns: netnsParam(), limit: PAGE })}`, 2000, render, onError);
  on('netns', () => poller.refresh());
  on('restart', () => poller.refresh());
}

function onError(e) {
  note.textContent = e.status === 404
    ? 'This agent does not report CLOSE_WAIT owners yet (GET /api/v1/closewait answered 404).'
    : `CLOSE_WAIT owners unavailable: ${e.message}`;
}

// 50,000 owners would be a table nobody reads: the biggest, and a count of the rest
const PAGE = 200;

function render(cw) {
  const shown = (cw.byOwner ?? []).length;
  const owners_ = cw.page?.total ?? shown;
  note.textContent = owners_ > shown ? `Showing the ${formatInt(shown)} biggest of ${formatInt(owners_)} owners.` : '';
  total.textContent = formatInt(cw.total);
  const owners = (cw.byOwner ?? []).slice().sort((a, b) => (b.leaking - a.leaking) || (b.count - a.count));
  body.replaceChildren(...(owners.length ? owners.map((o) => el('tr', {
    'data-testid': 'closewait-row',
    class: o.leaking ? 'leaking' : null,
    dataset: { pid: o.pid, leaking: String(!!o.leaking) },
  },
  el('td', { dataset: { field: 'comm' }, title: formatHolders(o),
    text: Array.isArray(o.holders) && o.holders.length === 0 ? '(no process)'
      : `${o.comm || '(unknown)'}${Array.isArray(o.holders) && o.holders.length > 1 ? ` +${o.holders.length - 1} holders` : ''}` }),
  el('td', { class: 'num', dataset: { field: 'pid' }, text: o.pid ? String(o.pid) : '–' }),
  el('td', { dataset: { field: 'unit' }, text: o.unit || '' }),
  el('td', { class: 'num', dataset: { field: 'count' }, text: formatInt(o.count) }),
  el('td', { class: 'num', dataset: { field: 'oldest' }, text: formatSeconds(o.oldestAgeSeconds) }),
  el('td', { class: 'num', dataset: { field: 'growth' },
    text: o.growthPerMinute === undefined || o.growthPerMinute === null ? '–'
      : `${o.growthPerMinute > 0 ? '+' : ''}${o.growthPerMinute.toFixed(1)}/min` }),
  el('td', { dataset: { field: 'leaking' } },
    el('span', { class: `flag ${o.leaking ? 'leaking' : 'ok'}`, text: o.leaking ? 'leaking' : 'no' })),
  )) : [emptyRow(7, 'no CLOSE_WAIT sockets')]));
}
