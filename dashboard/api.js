// Talks to the agent: JSON fetches and the live SSE stream with reconnect.

const FIRST_RETRY_MS = 2000; // same as the server's `retry:` hint
const MAX_RETRY_MS = 30000;
const STALL_MS = 5000;       // states arrive every second; silence this long means a dead link

export async function fetchJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.error}: ${body.detail}`);
  return body;
}

/**
 * Opens /api/v1/stream and keeps it open: when the agent restarts or the link stalls,
 * reconnects with exponential backoff (2 s, 4 s ... 30 s, with jitter).
 * handlers: onStates(msg), onEvent(event), onStatus('open' | 'reconnecting', retryMs).
 * Returns { close() }.
 */
export function openStream(netns, handlers) {
  let source = null;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer = null;
  let stallTimer = null;
  let closed = false;

  const url = netns ? `/api/v1/stream?netns=${encodeURIComponent(netns)}` : '/api/v1/stream';

  function connect() {
    retryTimer = null;
    source = new EventSource(url);
    source.addEventListener('open', () => {
      retryMs = FIRST_RETRY_MS;
      handlers.onStatus('open');
      watch();
    });
    source.addEventListener('states', (m) => {
      watch();
      handlers.onStates(JSON.parse(m.data));
    });
    source.addEventListener('event', (m) => handlers.onEvent(JSON.parse(m.data)));
    // EventSource retries by itself only on some failures; own the policy instead
    source.addEventListener('error', reconnect);
  }

  function watch() {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(reconnect, STALL_MS);
  }

  function reconnect() {
    if (closed || retryTimer !== null) return;
    clearTimeout(stallTimer);
    source.close();
    const delay = retryMs * (0.8 + Math.random() * 0.4);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    handlers.onStatus('reconnecting', delay);
    retryTimer = setTimeout(connect, delay);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(stallTimer);
      source.close();
    },
  };
}
