// Signing in with a name and password (a session cookie: HttpOnly, so scripts never see it), the
// CSRF header of the session on every request that changes something, the panel where a person
// chooses which alerts reach them by which channel, and an alert's history: who did what, when.
import { el, getJson, localTime } from './api.js';

let csrf = '';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const nativeFetch = window.fetch.bind(window);
/** Same-origin requests that change something carry the session's CSRF token (api/auth.ts). */
window.fetch = (input, init = {}) => {
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const url = new URL(input instanceof Request ? input.url : String(input), location.href);
  if (csrf && UNSAFE.has(method) && url.origin === location.origin) {
    init = { ...init, headers: { ...init.headers, 'x-huewatch-csrf': csrf } };
  }
  return nativeFetch(input, init);
};

/** The signed-in person of this browser's session cookie, or null. */
export async function currentSession() {
  const r = await getJson('/api/v1/session').catch(() => ({ ok: false }));
  if (!r.ok || r.body.kind !== 'session') return null;
  csrf = r.body.csrf ?? '';
  return r.body;
}

/** Signs in: { ok, session } or { ok: false, status, message }. */
export async function signIn(name, password) {
  const r = await getJson('/api/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) })
    .catch(() => ({ ok: false, status: 0, body: {} }));
  if (!r.ok) return { ok: false, status: r.status, message: r.body?.message ?? '' };
  csrf = r.body.csrf;
  return { ok: true, session: r.body };
}

export async function signOut() {
  await getJson('/api/v1/session', { method: 'DELETE' }).catch(() => undefined);
  csrf = '';
}

// contract/hazard.ts HAZARD_NAMES: the residents' page and the delivery use the same table
export const HAZARD_LABELS = {
  flood: 'Lũ (flood)', rain: 'Mưa lớn (heavy rain)', reservoir: 'Hồ chứa xả lũ (reservoir release)', storm: 'Bão (storm)',
  landslide: 'Sạt lở, lũ quét (landslide)', air: 'Không khí (air)', fire: 'Cháy rừng (forest fire)', sea: 'Tàu cá (vessels at sea)', other: 'Khác (other)',
};
const CHANNEL_LABELS = { console: 'Bảng điều khiển (console)', webpush: 'Web Push', email: 'E-mail', sms: 'SMS' };

/**
 * The preferences panel: per channel, on or off, which hazards (none ticked: all) and which
 * area codes (empty: all); e-mail and phone for the Node-RED flow. Saved with PUT /api/v1/me/preferences.
 */
export function startPreferencesPanel(form, note, onSaved = () => {}) {
  async function show(session) {
    form.replaceChildren();
    if (!session) {
      note.textContent = 'Đăng nhập bằng tài khoản để chọn cảnh báo (sign in with an account to choose your alerts).';
      return;
    }
    const r = await getJson('/api/v1/me/preferences');
    if (!r.ok) {
      note.textContent = `Không tải được lựa chọn (${r.status}).`;
      return;
    }
    note.textContent = `${session.displayName}: chọn loại cảnh báo và khu vực cho từng kênh (choose hazards and areas per channel; none ticked = all).`;
    const prefs = r.body;
    const rows = Object.entries(CHANNEL_LABELS).map(([ch, label]) => {
      const c = prefs.channels[ch];
      return el('fieldset', { class: 'pref-channel', 'data-channel': ch },
        el('legend', {}, el('label', {}, el('input', { type: 'checkbox', name: `${ch}.enabled`, checked: c.enabled }), ` ${label}`)),
        el('div', { class: 'hazards' }, ...Object.entries(HAZARD_LABELS).map(([h, hl]) =>
          el('label', {}, el('input', { type: 'checkbox', name: `${ch}.hazard`, value: h, checked: c.hazards.includes(h) }), ` ${hl} `))),
        el('label', {}, 'Khu vực (areas): ', el('input', { type: 'text', name: `${ch}.areas`, value: c.areas.join(', '), placeholder: 'kim-long, phu-oc …' })));
    });
    form.append(...rows,
      el('label', {}, 'E-mail: ', el('input', { type: 'email', name: 'email', value: prefs.email ?? '' })),
      el('label', {}, ' Điện thoại (phone): ', el('input', { type: 'tel', name: 'phone', value: prefs.phone ?? '' })),
      el('button', { type: 'submit', id: 'prefs-save' }, 'Lưu · Save'));
    form.onsubmit = async (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const channels = Object.fromEntries(Object.keys(CHANNEL_LABELS).map((ch) => [ch, {
        enabled: f.get(`${ch}.enabled`) === 'on',
        hazards: f.getAll(`${ch}.hazard`).map(String),
        areas: String(f.get(`${ch}.areas`) ?? '').split(',').map((a) => a.trim()).filter(Boolean),
      }]));
      const body = { channels, ...(f.get('email') ? { email: String(f.get('email')) } : {}), ...(f.get('phone') ? { phone: String(f.get('phone')) } : {}) };
      const saved = await getJson('/api/v1/me/preferences', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      note.dataset.saved = String(saved.ok);
      note.textContent = saved.ok ? 'Đã lưu (saved).' : `Không lưu được (${saved.status}): ${saved.body?.message ?? ''}`;
      if (saved.ok) onSaved();
    };
  }
  return { show };
}

const STATUS_LABELS = { active: 'đang hiệu lực (active)', acknowledged: 'đã xác nhận (acknowledged)', resolved: 'đã hết (resolved)', cancelled: 'đã huỷ (cancelled)' };

/** An alert's history into `list`: each event with its time (Vietnam), status and who, when a person did it. */
export async function showHistory(alertId, list, title, withAuth) {
  const r = await getJson(`/api/v1/alerts/${encodeURIComponent(alertId)}`, withAuth());
  if (!r.ok) {
    list.replaceChildren(el('li', {}, `Không tải được lịch sử (${r.status}).`));
    return;
  }
  title.textContent = `Lịch sử (history): ${r.body.headline.vi}`;
  list.dataset.alertId = alertId;
  list.replaceChildren(...r.body.history.map((h) => el('li', { class: 'history-entry', 'data-status': h.status, 'data-user': h.operator?.user ?? '' },
    el('time', { datetime: h.sent }, `${localTime(h.sent)} (UTC+7)`), ' · ', STATUS_LABELS[h.status] ?? h.status,
    h.operator ? el('strong', { class: 'who' }, ` — ${h.operator.user}`) : ' — hệ thống (system)',
    h.operator?.reason ? ` («${h.operator.reason}»)` : '')));
}
