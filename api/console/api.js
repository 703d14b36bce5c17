// Shared by the console and the residents' page: API calls, the alert stream, state and formats.
// Plain ES module, no build step; it talks only to the origin that served it.

/** A station is "offline" when its newest reading is older than this (reports come every few minutes). */
export const OFFLINE_AFTER_MS = 30 * 60_000;
export const OPEN_STATUSES = ['active', 'acknowledged'];
export const STATE_COLOURS = { normal: '#2e9e44', 'level-1': '#f2cc0c', 'level-2': '#ff780a', 'level-3': '#e02f44', offline: '#8e8e8e' };

export async function getJson(path, init) {
  const res = await fetch(path, init);
  const body = await res.json().catch(() => ({}));
  return { status: res.status, ok: res.ok, body };
}

/** Alerts by id; an event replaces the one held only when it is newer (eventSeq), as the feed does. */
export class AlertBook {
  constructor() { this.byId = new Map(); }
  put(a) {
    const held = this.byId.get(a.id);
    if (held && held.eventSeq > a.eventSeq) return false;
    this.byId.set(a.id, a);
    return true;
  }
  open() { return [...this.byId.values()].filter((a) => OPEN_STATUSES.includes(a.status)).sort((a, b) => b.sent.localeCompare(a.sent)); }
}

/** normal / level-N / offline, from the open alerts of the station and the time of its newest reading. */
export function stationState(station, openAlerts, latestTs, now = Date.now()) {
  const level = Math.max(0, ...openAlerts.filter((a) => a.source?.station === station.id).map((a) => a.level));
  if (level > 0) return `level-${Math.min(level, 3)}`;
  if (latestTs === undefined || now - latestTs > OFFLINE_AFTER_MS) return 'offline';
  return 'normal';
}

/** Newest reading time (epoch ms) from a GET /api/v1/stations/:id reply. */
export const latestTsOf = (station) => {
  const ts = Object.values(station.latest ?? {}).map((l) => Date.parse(l.ts));
  return ts.length ? Math.max(...ts) : undefined;
};

/**
 * What the console holds as its "token" while a person is signed in with name and password: the
 * session cookie (HttpOnly, sent by the browser itself) authenticates, so no header is added.
 */
export const SESSION_TOKEN = 'session:cookie';
/** Request options with the bearer token, when there is one (alerts for operators only need it). */
export const withToken = (token, init = {}) => (token && token !== SESSION_TOKEN ? { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } } : init);

/**
 * The SSE alert stream (EventSource reconnects by itself and resumes with Last-Event-ID);
 * on `reset` the caller reloads the list. EventSource cannot send a header: a token (the IOC
 * console's, for alerts for operators only) goes in the query (RFC 6750 §2.3).
 */
export function openAlertStream(onAlert, onReset, onStatus = () => {}, token = '') {
  // signed in with a session: the cookie goes along, and only the alerts the person chose come (for=me)
  const es = new EventSource(token === SESSION_TOKEN ? '/api/v1/stream?for=me' : token ? `/api/v1/stream?access_token=${encodeURIComponent(token)}` : '/api/v1/stream');
  es.addEventListener('alert', (e) => onAlert(JSON.parse(e.data)));
  es.addEventListener('reset', () => onReset());
  es.onopen = () => onStatus(true);
  es.onerror = () => onStatus(false);
  return es;
}

const fmt = new Intl.DateTimeFormat('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric' });
/** Times are UTC on the wire; people read Asia/Ho_Chi_Minh (DESIGN.md). */
export const localTime = (iso) => fmt.format(new Date(iso));

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
