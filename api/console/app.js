// The operations console: map with station states, the live alert list with acknowledge, and
// the chart of the selected station. Everything comes from this origin's /api/v1.
import { AlertBook, el, getJson, latestTsOf, localTime, openAlertStream, stationState, withToken } from './api.js';
import { drawChart } from './chart.js';
import { createMap } from './map.js';
import { startDevicePanel } from './devices.js';
import { startQualityPanel } from './quality.js';
import { currentSession, showHistory, signIn, signOut, startPreferencesPanel } from './account.js';
import { SESSION_TOKEN } from './api.js';
import { startFirePanel } from './fire.js';
import { startSosPanel } from './sos.js';
import { T, loadMetricLabels, metricLabel, metricName, metricUnit, metricValue } from './words.js';

const METRIC_BY_KIND = { river: 'water_level', rain: 'rainfall', air: 'pm25', reservoir: 'reservoir_level' };
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
let sosPanel;
let prefsPanel;
/** the person signed in with name and password (the session cookie), or null */
let session = null;

async function main() {
  const [st, geo, land, cfg, districts, communes] = await Promise.all([getJson('/api/v1/stations'), getJson('/console-data/sea-zones.geojson'), getJson('/console-data/land.geojson'), getJson('/console-data/config.json'), getJson('/console-data/districts.geojson'), getJson('/console-data/communes.geojson'), loadMetricLabels()]);
  stations = st.body.stations;
  map = await createMap($('map'), { geo: geo.body, land: land.body, districts: districts.body, communes: communes.body, stations, tileUrl: cfg.body.tileUrl, onSelect: select, onVesselSelect: showTrack });
  devicePanel = startDevicePanel($('devices'), $('devices-note'), () => token);
  qualityPanel = startQualityPanel($('quality'), $('quality-note'), () => token);
  startFirePanel($('fire'), $('fire-note'), (colours) => map.setDistrictFill(colours));
  sosPanel = startSosPanel($('sos'), $('sos-note'), () => token, () => map);
  prefsPanel = startPreferencesPanel($('prefs'), $('prefs-note'), () => void watchAlerts());
  session = await currentSession();
  if (session) token = SESSION_TOKEN;
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
  // signed in as a person: only the alerts they chose for the console (GET /api/v1/me/preferences)
  const r = await getJson(`/api/v1/alerts?status=active,acknowledged${session ? '&for=me' : ''}`, withToken(token));
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

/**
 * Vessel positions and storm areas are for viewers and up (fisheries officers), so both requests
 * carry the token; positions are `position.lat/lon` (GET /api/v1/vessels).
 */
async function pollVessels() {
  const [r, storms] = await Promise.all([
    getJson('/api/v1/vessels', withToken(token)).catch(() => ({ ok: false, status: 0, body: {} })),
    getJson('/api/v1/storm-areas', withToken(token)).catch(() => ({ ok: false, status: 0, body: {} })),
  ]);
  const note = $('vessel-note');
  map.setStormAreas(storms.ok ? storms.body.areas : []);
  if (!r.ok) {
    map.setVessels([]);
    note.dataset.vessels = '0';
    note.textContent = r.status === 401 || r.status === 403 ? 'Đăng nhập để xem tàu cá (log in to see vessels).'
      : r.status === 404 ? 'Máy chủ này không theo dõi tàu cá (no vessel tracking on this server).' : `Không tải được vị trí tàu cá (vessels not loaded): ${r.status}.`;
    return;
  }
  const list = r.body.vessels ?? [];
  const shown = list.filter((v) => Number.isFinite(v.position?.lat) && Number.isFinite(v.position?.lon));
  map.setVessels(shown);
  note.dataset.vessels = String(shown.length);
  note.textContent = `${shown.length} tàu cá trên bản đồ (vessels on the map)${storms.ok && storms.body.count ? ` · ${storms.body.count} ${T.stormArea.toLowerCase()}` : ''}`;
}

/** A vessel's last 24 h, drawn when it is clicked. */
async function showTrack(vesselId) {
  const r = await getJson(`/api/v1/vessels/${encodeURIComponent(vesselId)}/track`, withToken(token)).catch(() => ({ ok: false }));
  if (r.ok) map.setTrack(vesselId, r.body);
}

function paintStations() {
  const open = book.open();
  for (const s of stations) map.setState(s.id, stationState(s, open, latest.get(s.id)));
  map.setAlerts(open, new Map(stations.map((s) => [s.id, s])));
}

function render() {
  const open = book.open();
  $('alert-count').textContent = String(open.length);
  $('alerts').replaceChildren(...open.map((a) => el('li', { class: `alert sev-${a.severity.toLowerCase()} level-${a.level}`, 'data-alert-id': a.id, 'data-status': a.status, 'data-key': a.key },
    el('div', { class: 'head' }, el('span', { class: 'level', title: levelLabel(a, 'en') }, levelLabel(a, 'vi')), el('strong', {}, a.headline.vi)),
    el('div', { class: 'en' }, a.headline.en),
    el('div', { class: 'meta' }, `${a.area.name.vi} · ${metricName(a.source.metric)} ${metricValue(a.source.metric, a.source.value)} (${T.threshold} ${metricValue(a.source.metric, a.source.threshold)}) · `,
      el('time', { datetime: a.sent, title: T.vnTime }, `${localTime(a.sent)} (UTC+7)`), ' · ',
      el('span', { class: 'status' }, a.status === 'acknowledged' ? `đã xác nhận${a.operator ? ` bởi ${a.operator.user}` : ''} (acknowledged${a.operator ? ` by ${a.operator.user}` : ''})` : 'đang hiệu lực (in force)')),
    a.status === 'active' ? el('button', { class: 'ack', type: 'button', disabled: !token, title: token ? 'Xác nhận (acknowledge)' : 'Đăng nhập để xác nhận', onclick: () => acknowledge(a) }, 'Xác nhận · Ack') : null,
    el('button', { class: 'history', type: 'button', title: 'Ai đã làm gì, khi nào (who did what, when)', onclick: () => showHistory(a.id, $('history'), $('history-title'), () => withToken(token)) }, 'Lịch sử · History'),
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
    r = await getJson(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`, withToken(token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
  } catch {
    r = { ok: false, status: 0, body: {} };
  }
  out.dataset.status = String(r.status);
  if (r.ok) {
    out.dataset.outcome = 'ok';
    out.textContent = `Đã xác nhận cảnh báo (acknowledged) "${a.headline.vi}".`;
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
  sosPanel?.refresh();
  if (map) void pollVessels(); // vessels and storm areas are for viewers and up
  prefsPanel?.show(session);
  $('token').value = '';
  $('user-password').value = '';
  $('who').textContent = session ? `${session.displayName} (${session.name}, ${session.role})` : token ? 'Đã đăng nhập' : '';
  $('who').dataset.user = session?.name ?? '';
  $('logout-btn').hidden = !token;
  for (const id of ['user-name', 'user-password', 'token', 'login-btn']) $(id).hidden = Boolean(token);
  $('login').onsubmit = async (e) => {
    e.preventDefault();
    const name = $('user-name').value.trim();
    if (name) {
      // a person: name and password open a session (cookie); a token below is for scripts and kiosks
      const r = await signIn(name, $('user-password').value);
      if (!r.ok) {
        $('who').textContent = r.status === 429 ? `Tạm khoá do nhập sai nhiều lần (locked out): ${r.message}` : 'Sai tên hoặc mật khẩu (wrong name or password)';
        $('who').dataset.refused = String(r.status);
        return;
      }
      session = r.session;
      token = SESSION_TOKEN;
    } else {
      token = $('token').value.trim();
      if (token) sessionStorage.setItem('huewatch-token', token);
    }
    delete $('who').dataset.refused;
    setLogin();
    void watchAlerts();
  };
  $('logout-btn').onclick = async () => {
    if (session) await signOut();
    session = null;
    token = '';
    sessionStorage.removeItem('huewatch-token');
    setLogin();
    void watchAlerts();
  };
}

function select(s) {
  if (!s) return;
  selected = s;
  map.select(s.id);
  drawSelected();
}

async function drawSelected() {
  const s = selected;
  const metric = METRIC_BY_KIND[s.kind] ?? 'water_level';
  const unit = metricUnit(metric);
  const to = Date.now() + 60_000, from = to - 24 * 3600_000;
  const r = await getJson(`/api/v1/stations/${encodeURIComponent(s.id)}/series?metric=${metric}&from=${from}&to=${to}&every=5m&fn=max`);
  if (s !== selected) return;
  $('chart-title').textContent = `${s.name} — ${metricLabel(metric)} — ${T.last24h}`;
  $('chart').dataset.chartStation = s.id;
  // a river's alarm levels are its "báo động" levels (Decision 05/2020/QĐ-TTg)
  drawChart($('chart'), { points: r.ok ? r.body.points : [], from, to, unit, levels: s.alarmLevels ?? {}, levelLabel: s.kind === 'river' ? (lvl) => `BĐ${lvl}` : undefined });
}

main().catch((err) => {
  document.body.dataset.ready = 'error';
  console.error(err);
  $('ack-result').textContent = `Lỗi tải bảng điều khiển (the console did not load): ${err?.message ?? err}`;
});
