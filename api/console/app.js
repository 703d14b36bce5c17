// The operations console: map with station states, the live alert list with acknowledge, and
// the chart of the selected station. Everything comes from this origin's /api/v1.
import { AlertBook, el, getJson, latestTsOf, localTime, openAlertStream, stationState, withToken } from './api.js';
import { drawChart } from './chart.js';
import { createMap } from './map.js';
import { startDevicePanel } from './devices.js';
import { startQualityPanel } from './quality.js';

const METRIC_BY_KIND = { river: ['water_level', 'm'], rain: ['rainfall', 'mm'], air: ['pm25', 'µg/m³'], reservoir: ['reservoir_level', 'm'] };
const LATEST_POLL_MS = 15_000;
const VESSEL_POLL_MS = 10_000;
const CHART_POLL_MS = 30_000;
/** after an alert, when its reading is surely written (group commit: tens of ms) */
const ALERT_REDRAW_MS = 1_000;

let book = new AlertBook();
let stream;
const latest = new Map(); // station id → newest reading time
let stations = [];
let map;
let selected;
let token = sessionStorage.getItem('huewatch-token') ?? '';
const $ = (id) => document.getElementById(id);
let devicePanel;
let qualityPanel;

async function main() {
  const [st, geo, cfg] = await Promise.all([getJson('/api/v1/stations'), getJson('/console-data/sea-zones.geojson'), getJson('/console-data/config.json')]);
  stations = st.body.stations;
  map = createMap($('map'), { geo: geo.body, stations, tileUrl: cfg.body.tileUrl, onSelect: select });
  devicePanel = startDevicePanel($('devices'), $('devices-note'), () => token);
  qualityPanel = startQualityPanel($('quality'), $('quality-note'), () => token);
  setLogin();
  await watchAlerts();
  await pollLatest();
  setInterval(pollLatest, LATEST_POLL_MS);
  pollVessels();
  setInterval(pollVessels, VESSEL_POLL_MS);
  setInterval(() => selected && drawSelected(), CHART_POLL_MS);
  select(stations.find((s) => s.kind === 'river') ?? stations[0]);
  document.body.dataset.ready = 'true';
}

/** Alerts for operators only come with a token: (re)load the list and the stream as who is logged in. */
async function watchAlerts() {
  stream?.close();
  book = new AlertBook();
  await reloadAlerts();
  stream = openAlertStream(onAlert, reloadAlerts, (up) => { $('stream-status').dataset.online = String(up); $('stream-status').textContent = up ? 'Trực tuyến · live' : 'Mất kết nối · reconnecting'; }, token);
}

async function reloadAlerts() {
  const r = await getJson('/api/v1/alerts?status=active,acknowledged', withToken(token));
  if (r.status === 401) $('who').textContent = 'Token không hợp lệ (unknown token)';
  if (r.ok) for (const a of r.body.alerts) book.put(a);
  render();
}

function onAlert(a) {
  if (!book.put(a)) return;
  render();
  if (selected && a.source?.station === selected.id) {
    drawSelected();
    // an alert is published before its reading is written (rules/README.md): draw again once it is
    setTimeout(() => selected?.id === a.source.station && drawSelected(), ALERT_REDRAW_MS);
  }
}

async function pollLatest() {
  await Promise.all(stations.map(async (s) => {
    const r = await getJson(`/api/v1/stations/${encodeURIComponent(s.id)}`);
    if (r.ok) latest.set(s.id, latestTsOf(r.body));
  }));
  paintStations();
}

/** Vessels come from another part of the platform; until /api/v1/vessels exists the layer stays empty. */
async function pollVessels() {
  const r = await getJson('/api/v1/vessels').catch(() => ({ ok: false, status: 0 }));
  if (!r.ok) {
    $('vessel-note').textContent = r.status === 404 ? 'Lớp tàu cá: chưa có API /api/v1/vessels (vessel layer not available yet).' : `Lớp tàu cá: lỗi ${r.status}.`;
    return;
  }
  const list = Array.isArray(r.body) ? r.body : (r.body.vessels ?? []);
  map.setVessels(list.filter((v) => Number.isFinite(v.lat) && Number.isFinite(v.lon)));
  $('vessel-note').textContent = `${list.length} tàu cá trên bản đồ · vessels`;
}

function paintStations() {
  const open = book.open();
  for (const s of stations) map.setState(s.id, stationState(s, open, latest.get(s.id)));
}

function render() {
  const open = book.open();
  $('alert-count').textContent = String(open.length);
  $('alerts').replaceChildren(...open.map((a) => el('li', { class: `alert sev-${a.severity.toLowerCase()} level-${a.level}`, 'data-alert-id': a.id, 'data-status': a.status, 'data-key': a.key },
    el('div', { class: 'head' }, el('span', { class: 'level', title: levelLabel(a, 'en') }, levelLabel(a, 'vi')), el('strong', {}, a.headline.vi)),
    el('div', { class: 'en' }, a.headline.en),
    el('div', { class: 'meta' }, `${a.area.name.vi} · ${a.source.metric} ${a.source.value} (ngưỡng ${a.source.threshold}) · ${localTime(a.sent)} · `,
      el('span', { class: 'status' }, a.status === 'acknowledged' ? `đã xác nhận${a.operator ? ` bởi ${a.operator.user}` : ''}` : 'đang hiệu lực')),
    a.status === 'active' ? el('button', { class: 'ack', type: 'button', disabled: !token, title: token ? 'Xác nhận (acknowledge)' : 'Đăng nhập để xác nhận', onclick: () => acknowledge(a) }, 'Xác nhận · Ack') : null,
  )));
  paintStations();
}

/**
 * The alert's level in its own hazard's words, Vietnamese first ("Báo động 2", "Mưa to", "Kém"):
 * the name the rule file gives it, carried by the alert; an alert without one (vessels, release
 * orders, manual alerts) shows its event.
 */
function levelLabel(a, lang) {
  if (a.levelName) return a.levelName[lang];
  return a.level ? a.event[lang] : a.severity;
}

async function acknowledge(a) {
  const out = $('ack-result');
  let r;
  try {
    r = await getJson(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  } catch {
    r = { ok: false, status: 0, body: {} };
  }
  out.dataset.status = String(r.status);
  if (r.ok) {
    out.dataset.outcome = 'ok';
    out.textContent = `Đã xác nhận cảnh báo "${a.headline.vi}".`;
    if (r.body && r.body.id === a.id) onAlert(r.body);
    return;
  }
  out.dataset.outcome = 'refused';
  const why = { 401: 'token không hợp lệ (not logged in)', 403: 'tài khoản không có quyền xác nhận (your role may not acknowledge)', 404: 'máy chủ chưa hỗ trợ xác nhận cảnh báo (acknowledge is not available on this server)', 409: 'cảnh báo đã thay đổi (the alert changed)' }[r.status] ?? 'lỗi máy chủ (server error)';
  out.textContent = `Không xác nhận được (${r.status}): ${why}${r.body?.code ? ` [${r.body.code}]` : ''}`;
}

function setLogin() {
  devicePanel?.refresh();
  qualityPanel?.refresh();
  $('token').value = '';
  $('who').textContent = token ? 'Đã đăng nhập' : '';
  $('logout-btn').hidden = !token;
  $('login').onsubmit = (e) => {
    e.preventDefault();
    token = $('token').value.trim();
    if (token) sessionStorage.setItem('huewatch-token', token);
    setLogin();
    void watchAlerts();
  };
  $('logout-btn').onclick = () => { token = ''; sessionStorage.removeItem('huewatch-token'); setLogin(); void watchAlerts(); };
}

function select(s) {
  if (!s) return;
  selected = s;
  map.select(s.id);
  drawSelected();
}

async function drawSelected() {
  const s = selected;
  const [metric, unit] = METRIC_BY_KIND[s.kind] ?? ['water_level', 'm'];
  const to = Date.now() + 60_000, from = to - 24 * 3600_000;
  const r = await getJson(`/api/v1/stations/${encodeURIComponent(s.id)}/series?metric=${metric}&from=${from}&to=${to}&every=5m&fn=max`);
  if (s !== selected) return;
  $('chart-title').textContent = `${s.name} — ${metric} (${unit}), 24 giờ qua`;
  $('chart').dataset.chartStation = s.id;
  // a river's alarm levels are its "báo động" levels (Decision 05/2020/QĐ-TTg)
  drawChart($('chart'), { points: r.ok ? r.body.points : [], from, to, unit, levels: s.alarmLevels ?? {}, levelLabel: s.kind === 'river' ? (lvl) => `BĐ${lvl}` : undefined });
}

main().catch((err) => {
  document.body.dataset.ready = 'error';
  $('ack-result').textContent = `Lỗi tải bảng điều khiển: ${err.message}`;
});
