// The residents' SOS (issue #15.3): a call for help with a position (the browser's, or a place
// picked on the map), a few words and a phone number; then its status as the operations centre
// takes it, sends a rescue unit and closes it. The call's id and tracking token stay in this
// browser (localStorage) so the status survives a reload; nobody else can read it.
import { el } from './api.js';

const $ = (id) => document.getElementById(id);
const CALL_KEY = 'huewatch-sos-call';
const INSTALL_KEY = 'huewatch-install-id';
const POLL_MS = 3_000;
const HUE = [16.46, 107.59];

const WORDS = {
  vi: {
    title: 'Gọi cứu hộ (SOS)', intro: 'Chỉ dùng khi bạn hoặc người bên cạnh đang gặp nguy hiểm. Nếu gọi được, hãy gọi 112.',
    gps: 'Dùng vị trí của tôi', pick: 'Hoặc chạm vào bản đồ để chọn nơi cần cứu', text: 'Chuyện gì đang xảy ra?', phone: 'Số điện thoại',
    send: 'Gửi SOS', sending: 'Đang gửi…', noPlace: 'Hãy cho biết vị trí: dùng vị trí của tôi hoặc chọn trên bản đồ.',
    located: (lat, lon) => `Vị trí: ${lat.toFixed(5)}, ${lon.toFixed(5)}`, gpsFailed: (m) => `Không lấy được vị trí: ${m}. Hãy chọn trên bản đồ.`,
    failed: (m) => `Chưa gửi được: ${m}`, status: 'Trạng thái yêu cầu cứu hộ', alerts: 'Cảnh báo đang có tại nơi này',
    steps: { received: 'Trung tâm đã nhận yêu cầu', taken: 'Cán bộ trực đã tiếp nhận', assigned: 'Đã giao cho lực lượng cứu hộ', closed: 'Đã hoàn tất' },
    again: 'Gửi yêu cầu khác',
  },
  en: {
    title: 'Call for help (SOS)', intro: 'Only when you or someone near you is in danger. If you can, call 112.',
    gps: 'Use my location', pick: 'Or tap the map to pick the place', text: 'What is happening?', phone: 'Phone number',
    send: 'Send SOS', sending: 'Sending…', noPlace: 'Tell us where: use your location or pick it on the map.',
    located: (lat, lon) => `Location: ${lat.toFixed(5)}, ${lon.toFixed(5)}`, gpsFailed: (m) => `Could not get your location: ${m}. Pick it on the map.`,
    failed: (m) => `Not sent: ${m}`, status: 'Your call for help', alerts: 'Alerts in force at this place',
    steps: { received: 'The centre received your call', taken: 'An officer on duty took it', assigned: 'A rescue unit was sent', closed: 'Done' },
    again: 'Send another call',
  },
};

const lang = () => ($('lang')?.value === 'en' ? 'en' : 'vi');
const w = () => WORDS[lang()];
let place;
let map;
let marker;
let pollTimer;

function installId() {
  let id = localStorage.getItem(INSTALL_KEY);
  if (!id) {
    id = `web-${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;
    localStorage.setItem(INSTALL_KEY, id);
  }
  return id;
}

function setPlace(lat, lon, located, accuracyM) {
  place = { lat, lon, located, ...(accuracyM !== undefined ? { accuracyM } : {}) };
  $('sos-place').textContent = w().located(lat, lon);
  if (map && globalThis.L) {
    if (marker) marker.setLatLng([lat, lon]);
    else marker = globalThis.L.marker([lat, lon]).addTo(map);
  }
}

function drawForm() {
  const t = w();
  $('sos').replaceChildren(
    el('h2', {}, t.title), el('p', { class: 'note' }, t.intro),
    el('button', { type: 'button', id: 'sos-gps', onclick: useGps }, t.gps),
    el('p', { class: 'note' }, t.pick),
    el('div', { id: 'sos-map' }),
    el('p', { id: 'sos-place', role: 'status' }),
    el('label', {}, t.text, el('textarea', { id: 'sos-text', maxlength: 500, rows: 3, required: true })),
    el('label', {}, t.phone, el('input', { id: 'sos-phone', type: 'tel', autocomplete: 'tel', required: true })),
    el('button', { type: 'button', id: 'sos-send', class: 'sos', onclick: send }, t.send),
    el('p', { id: 'sos-error', role: 'alert' }),
  );
  if (globalThis.L) {
    map = globalThis.L.map('sos-map', { attributionControl: false }).setView(HUE, 9);
    fetch('/console-data/land.geojson').then((r) => r.json()).then((land) => globalThis.L.geoJSON(land, { style: { weight: 1, color: '#557', fillOpacity: 0.1 } }).addTo(map)).catch(() => undefined);
    map.on('click', (e) => setPlace(e.latlng.lat, e.latlng.lng, 'map'));
  }
}

function useGps() {
  if (!navigator.geolocation) return ($('sos-error').textContent = w().gpsFailed('no geolocation'));
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      setPlace(pos.coords.latitude, pos.coords.longitude, 'gps', Math.round(pos.coords.accuracy));
      map?.setView([pos.coords.latitude, pos.coords.longitude], 13);
    },
    (err) => ($('sos-error').textContent = w().gpsFailed(err.message)),
    { enableHighAccuracy: true, timeout: 15_000 },
  );
}

async function send() {
  const t = w();
  if (!place) return ($('sos-error').textContent = t.noPlace);
  $('sos-send').disabled = true;
  $('sos-send').textContent = t.sending;
  try {
    const res = await fetch('/api/v1/sos', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...place, text: $('sos-text').value, phone: $('sos-phone').value, deviceId: installId(), lang: lang() }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message ?? res.status);
    localStorage.setItem(CALL_KEY, JSON.stringify({ id: body.id, token: body.token }));
    await follow();
  } catch (err) {
    $('sos-error').textContent = t.failed(err.message);
    $('sos-send').disabled = false;
    $('sos-send').textContent = t.send;
  }
}

/** The status of the call this browser sent, polled until it is closed. */
async function follow() {
  clearTimeout(pollTimer);
  const call = JSON.parse(localStorage.getItem(CALL_KEY) ?? 'null');
  if (!call) return drawForm();
  const res = await fetch(`/api/v1/sos/${call.id}/track?token=${encodeURIComponent(call.token)}`).catch(() => undefined);
  if (res?.status === 404) {
    localStorage.removeItem(CALL_KEY);
    return drawForm();
  }
  if (res?.ok) drawStatus(await res.json());
  if ($('sos').dataset.status !== 'closed') pollTimer = setTimeout(follow, POLL_MS);
}

function drawStatus(view) {
  const t = w();
  const time = (iso) => new Date(iso).toLocaleTimeString(lang() === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit' });
  $('sos').dataset.status = view.status;
  $('sos').replaceChildren(
    el('h2', {}, t.status),
    el('ol', { id: 'sos-steps' }, view.steps.map((s) => el('li', { 'data-action': s.action }, `${time(s.at)} — ${t.steps[s.action]}${s.unit ? `: ${s.unit.name}` : ''}`))),
    view.alerts.length ? el('div', {}, el('h3', {}, t.alerts), el('ul', {}, view.alerts.map((a) => el('li', {}, a.headline[lang()])))) : null,
    view.status === 'closed' ? el('button', { type: 'button', onclick: () => { localStorage.removeItem(CALL_KEY); drawForm(); } }, t.again) : null,
  );
}

$('lang')?.addEventListener('change', () => void follow());
void follow();
