// The residents' page: alerts in force for one area, updated live, in Vietnamese (or English),
// and Web Push for the areas, hazards and minimum severity the resident chooses.
// /resident.html?area=huyen-a-luoi (a district) or ?area=kim-long (a station's area: its district)
import { AlertBook, el, getJson, localTime, openAlertStream } from './api.js';

const $ = (id) => document.getElementById(id);
const book = new AlertBook();
const params = new URLSearchParams(location.search);
const WORKER = '/console/resident-sw.js';
const WORKER_SCOPE = '/resident.html';
const LANG_KEY = 'huewatch-resident-lang';

const WORDS = {
  vi: {
    title: 'Cảnh báo thiên tai', area: 'Khu vực', language: 'Ngôn ngữ', note: 'Cập nhật tự động. Giờ Việt Nam (GMT+7).',
    pushTitle: 'Nhận thông báo trên điện thoại', pushIntro: 'Chọn khu vực, loại thiên tai và mức độ bạn muốn được báo; thông báo đến cả khi trang đã đóng.',
    pushAreas: 'Khu vực', pushHazards: 'Loại thiên tai', pushSeverity: 'Mức độ từ',
    subscribe: 'Nhận thông báo', save: 'Lưu lựa chọn', unsubscribe: 'Ngừng nhận thông báo',
    loading: 'Đang tải…', some: (n, name) => `${n} cảnh báo đang có hiệu lực tại ${name}.`, none: (name) => `Hiện không có cảnh báo nào tại ${name}.`,
    updated: 'cập nhật lúc', advice: 'Khuyến cáo: ', failed: (m) => `Không tải được cảnh báo: ${m}`, offline: 'Đang ngoại tuyến: cảnh báo lần tải trước.',
    pushOn: 'Đã bật thông báo cho lựa chọn trên.', pushOff: 'Chưa bật thông báo.', pushSaved: 'Đã lưu lựa chọn.', pushRemoved: 'Đã ngừng nhận thông báo.',
    pushUnsupported: 'Trình duyệt này không nhận được thông báo đẩy (Web Push).', pushDenied: 'Bạn đã chặn thông báo cho trang này: hãy cho phép trong cài đặt trình duyệt.',
    pickArea: 'Hãy chọn ít nhất một khu vực.', pickHazard: 'Hãy chọn ít nhất một loại thiên tai.', pushError: (m) => `Không bật được thông báo: ${m}`,
  },
  en: {
    title: 'Disaster alerts', area: 'Area', language: 'Language', note: 'Updated live. Vietnam time (GMT+7).',
    pushTitle: 'Get notifications on this phone', pushIntro: 'Choose the areas, hazards and severity you want to hear about; notifications arrive even when this page is closed.',
    pushAreas: 'Areas', pushHazards: 'Hazards', pushSeverity: 'Severity from',
    subscribe: 'Get notifications', save: 'Save choices', unsubscribe: 'Stop notifications',
    loading: 'Loading…', some: (n, name) => `${n} alert${n === 1 ? '' : 's'} in force in ${name}.`, none: (name) => `No alerts in force in ${name}.`,
    updated: 'updated', advice: 'Advice: ', failed: (m) => `Could not load alerts: ${m}`, offline: 'Offline: alerts as last loaded.',
    pushOn: 'Notifications are on for the choices above.', pushOff: 'Notifications are off.', pushSaved: 'Choices saved.', pushRemoved: 'Notifications stopped.',
    pushUnsupported: 'This browser cannot receive push notifications (Web Push).', pushDenied: 'Notifications are blocked for this page: allow them in the browser settings.',
    pickArea: 'Choose at least one area.', pickHazard: 'Choose at least one hazard.', pushError: (m) => `Could not turn notifications on: ${m}`,
  },
};

let lang = ['vi', 'en'].includes(params.get('lang')) ? params.get('lang') : (localStorage.getItem(LANG_KEY) ?? 'vi');
let choices = { areas: [], hazards: [], severities: [], languages: ['vi', 'en'] };
let area = '';
/** the browser's push subscription, when it has one the platform knows */
let current;
const w = () => WORDS[lang] ?? WORDS.vi;

async function main() {
  choices = await loadChoices();
  area = pickArea(params.get('area') ?? '');
  $('area').onchange = () => {
    area = $('area').value;
    history.replaceState(null, '', `?area=${encodeURIComponent(area)}`);
    render();
  };
  $('lang').value = lang;
  $('lang').onchange = () => {
    lang = $('lang').value;
    localStorage.setItem(LANG_KEY, lang);
    translate();
    render();
    if (current) setStatus('on', w().pushOn);
  };
  translate();
  await reload();
  openAlertStream((a) => book.put(a) && render(), reload);
  document.body.dataset.ready = 'true';
  await setUpPush().catch((err) => setStatus('error', w().pushError(err.message)));
}

/** Areas (districts, each once), hazards and severities from the platform; the stations' districts if that fails. */
async function loadChoices() {
  const r = await getJson('/api/v1/push/choices').catch(() => ({ ok: false }));
  if (r.ok) return r.body;
  const st = await getJson('/api/v1/stations');
  const byName = new Map();
  for (const s of st.body.stations) {
    const name = s.district ?? s.areaName;
    const a = byName.get(name) ?? { code: s.district ? undefined : s.areaCode, name, codes: [] };
    a.codes.push(s.areaCode);
    a.code ??= s.areaCode;
    byName.set(name, a);
  }
  return { areas: [...byName.values()], hazards: [], severities: [], languages: ['vi', 'en'] };
}

/** A district code, or a station's area code (old links: ?area=kim-long) standing for its district. */
function pickArea(wanted) {
  const found = choices.areas.find((a) => a.code === wanted) ?? choices.areas.find((a) => a.codes.includes(wanted));
  return found?.code ?? choices.areas[0]?.code ?? '';
}
const areaOf = (code) => choices.areas.find((a) => a.code === code);

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll('[data-t]')) {
    const text = w()[node.dataset.t];
    if (typeof text === 'string') node.textContent = text;
  }
  $('area').replaceChildren(...choices.areas.map((a) => el('option', { value: a.code, selected: a.code === area }, a.name)));
  const checked = (box) => new Set([...document.querySelectorAll(`#${box} input:checked`)].map((i) => i.value));
  const areasOn = checked('push-areas');
  const hazardsOn = checked('push-hazards');
  const fresh = document.querySelectorAll('#push-areas input').length === 0;
  const box = (name, code, label, on) => el('label', {}, el('input', { type: 'checkbox', name, value: code, checked: on }), ' ', label);
  $('push-areas').replaceChildren(el('legend', {}, w().pushAreas),
    ...choices.areas.map((a) => box('area', a.code, a.name, fresh ? a.code === area : areasOn.has(a.code))));
  $('push-hazards').replaceChildren(el('legend', {}, w().pushHazards),
    ...choices.hazards.map((h) => box('hazard', h.code, h.name[lang], fresh ? true : hazardsOn.has(h.code))));
  const sev = $('min-severity').value || 'Moderate';
  $('min-severity').replaceChildren(...choices.severities.map((s) => el('option', { value: s.code, selected: s.code === sev }, s.name[lang])));
}

async function reload() {
  const r = await getJson('/api/v1/alerts?status=active,acknowledged');
  if (r.ok) for (const a of r.body.alerts) book.put(a);
  render();
  // the service worker answers from its cache when the platform cannot be reached
  if (r.ok && r.body.offline) $('summary').textContent += ` ${w().offline}`;
}

function render() {
  const codes = new Set(areaOf(area)?.codes ?? [area]);
  const mine = book.open().filter((a) => a.area.codes.some((c) => codes.has(c)));
  const name = areaOf(area)?.name ?? area;
  $('summary').textContent = mine.length ? w().some(mine.length, name) : w().none(name);
  $('alerts').replaceChildren(...mine.map((a) => el('li', { class: `alert level-${a.level}`, 'data-alert-id': a.id },
    el('h2', {}, a.headline[lang]),
    el('p', { class: 'meta' }, `${a.event[lang]} · ${a.area.name[lang]} · ${w().updated} ${localTime(a.sent)}`),
    el('p', {}, a.description[lang]),
    el('p', { class: 'instruction' }, el('strong', {}, w().advice), a.instruction[lang]),
  )));
}

// ---- Web Push ----

function setStatus(state, text) {
  $('push-status').dataset.state = state;
  $('push-status').textContent = text;
  const on = state === 'on';
  $('subscribe').hidden = on || state === 'unsupported';
  $('save').hidden = !on;
  $('unsubscribe').hidden = !on;
}

/** The choices on the form, as the API takes them. */
function formChoices() {
  const values = (box) => [...document.querySelectorAll(`#${box} input:checked`)].map((i) => i.value);
  return { areas: values('push-areas'), hazards: values('push-hazards'), minSeverity: $('min-severity').value, lang };
}
function showChoices(c) {
  for (const i of document.querySelectorAll('#push-areas input')) i.checked = c.areas.includes(i.value);
  for (const i of document.querySelectorAll('#push-hazards input')) i.checked = c.hazards.includes(i.value);
  $('min-severity').value = c.minSeverity;
  if (c.lang !== lang) {
    lang = c.lang;
    $('lang').value = lang;
    translate();
    render();
  }
}
const proof = (sub) => {
  const { endpoint, keys } = sub.toJSON();
  return { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } };
};
const send = (method, path, body) => getJson(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const problem = (r) => r.body?.message ?? `HTTP ${r.status}`;

async function setUpPush() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    setStatus('unsupported', w().pushUnsupported);
    return;
  }
  // the worker also keeps the page's shell for opening offline
  const controlled = Boolean(navigator.serviceWorker.controller);
  await navigator.serviceWorker.register(WORKER, { scope: WORKER_SCOPE });
  const reg = await navigator.serviceWorker.ready;
  if (!controlled) {
    // a first visit: once the worker controls the page, load the alerts through it, so it keeps them
    if (!navigator.serviceWorker.controller) await new Promise((r) => { navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }); setTimeout(r, 5000); });
    await reload();
  }
  document.body.dataset.worker = 'ready';
  $('subscribe').onclick = () => subscribe(reg).catch((err) => setStatus('error', w().pushError(err.message)));
  $('save').onclick = () => save().catch((err) => setStatus('error', w().pushError(err.message)));
  $('unsubscribe').onclick = () => unsubscribe().catch((err) => setStatus('error', w().pushError(err.message)));
  const sub = await reg.pushManager.getSubscription();
  if (sub) {
    const r = await send('POST', '/api/v1/push/subscriptions/find', proof(sub));
    if (r.ok) {
      current = sub;
      showChoices(r.body);
      setStatus('on', w().pushOn);
      return;
    }
  }
  setStatus(Notification.permission === 'denied' ? 'denied' : 'off', Notification.permission === 'denied' ? w().pushDenied : w().pushOff);
}

function checkForm(c) {
  if (c.areas.length === 0) throw new Error(w().pickArea);
  if (c.hazards.length === 0) throw new Error(w().pickHazard);
}

async function subscribe(reg) {
  const c = formChoices();
  checkForm(c);
  if ((await Notification.requestPermission()) !== 'granted') {
    setStatus('denied', w().pushDenied);
    return;
  }
  const key = await getJson('/api/v1/push/vapid-public-key');
  if (!key.ok) throw new Error(problem(key));
  const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(key.body.publicKey) }));
  const r = await send('POST', '/api/v1/push/subscriptions', { subscription: sub.toJSON(), ...c });
  if (!r.ok) throw new Error(problem(r));
  current = sub;
  setStatus('on', w().pushOn);
}

async function save() {
  const c = formChoices();
  checkForm(c);
  const r = await send('PUT', '/api/v1/push/subscriptions', { subscription: proof(current), ...c });
  if (!r.ok) throw new Error(problem(r));
  showChoices(r.body);
  setStatus('on', w().pushSaved);
}

async function unsubscribe() {
  const r = await send('DELETE', '/api/v1/push/subscriptions', proof(current));
  // 404: the platform had already forgotten it (e.g. the push service said it was gone)
  if (!r.ok && r.status !== 404) throw new Error(problem(r));
  await current.unsubscribe();
  current = undefined;
  setStatus('off', w().pushRemoved);
}

function fromBase64Url(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

main().catch((err) => { $('summary').textContent = w().failed(err.message); document.body.dataset.ready = 'error'; });
