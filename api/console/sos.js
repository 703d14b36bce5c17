// Residents' SOS calls on the IOC console (issue #15.3): a queue beside the map and a red marker
// where each open call is, live from the stream (`event: sos`, operators only: the calls carry the
// caller's phone and position). An operator takes a call, assigns it to a rescue unit of its
// district and closes it with a note; the resident's page shows each step.
import { el, getJson, localTime, SESSION_TOKEN, withToken } from './api.js';

const STATUS = { new: 'Mới (new)', taken: 'Đã tiếp nhận (taken)', assigned: 'Đã giao (assigned)', closed: 'Đã xong (closed)' };

/** `list` the queue, `note` why it is empty; `tokenOf()` who is signed in; `mapOf()` the console map (map.js), once drawn. */
export function startSosPanel(list, note, tokenOf, mapOf) {
  const calls = new Map();
  const markers = new Map();
  let stream;

  function marker(c) {
    const map = mapOf()?.leaflet;
    const L = window.L;
    if (!map || !L) return;
    const old = markers.get(c.id);
    if (c.status === 'closed' || !c.personal) {
      old?.remove();
      markers.delete(c.id);
      return;
    }
    const icon = L.divIcon({ className: 'sos-marker', html: `<span data-sos="${c.id}" data-status="${c.status}">SOS</span>`, iconSize: [36, 18], iconAnchor: [18, 9] });
    if (old) old.setLatLng([c.personal.lat, c.personal.lon]).setIcon(icon);
    else markers.set(c.id, L.marker([c.personal.lat, c.personal.lon], { icon, title: `SOS ${c.district ?? ''}`, zIndexOffset: 1000 }).addTo(map));
  }

  async function act(id, action, body) {
    const r = await getJson(`/api/v1/sos/${id}/${action}`, withToken(tokenOf(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }));
    if (!r.ok) note.textContent = `${action}: ${r.body?.message ?? r.status}`;
    else put(r.body);
  }

  function row(c) {
    const p = c.personal;
    const units = c.units ?? [];
    return el('li', { 'data-sos': c.id, 'data-status': c.status },
      el('div', { class: 'sos-head' }, el('b', {}, 'SOS'), ` ${localTime(c.receivedAt)} · ${c.district ?? '—'} · `, el('span', { class: 'sos-status' }, STATUS[c.status] ?? c.status)),
      p ? el('div', {}, `☎ ${p.phone} · ${p.lat.toFixed(4)}, ${p.lon.toFixed(4)} (${p.located === 'gps' ? 'GPS' : 'bản đồ / map'})`) : el('div', { class: 'note' }, 'Dữ liệu cá nhân đã xóa (personal data deleted)'),
      p ? el('div', { class: 'sos-text' }, `“${p.text}”`) : null,
      c.alerts.length ? el('div', { class: 'sos-alerts' }, 'Cảnh báo tại nơi này (alerts here): ', c.alerts.map((a) => a.headline.vi).join('; ')) : null,
      el('ol', { class: 'sos-steps' }, c.steps.map((s) => el('li', { 'data-action': s.action }, `${localTime(s.at)} ${s.action}${s.by ? ` — ${s.by}` : ''}${s.unit ? ` → ${s.unit.name}` : ''}${s.note ? `: ${s.note}` : ''}`))),
      c.status === 'new' ? el('button', { type: 'button', class: 'sos-take', onclick: () => act(c.id, 'take') }, 'Tiếp nhận (take)') : null,
      c.status === 'taken' || c.status === 'assigned'
        ? el('span', {},
            el('select', { class: 'sos-unit' }, units.map((u) => el('option', { value: u.id }, u.name))),
            el('button', { type: 'button', class: 'sos-assign', onclick: (e) => act(c.id, 'assign', { unit: e.target.previousElementSibling.value }) }, 'Giao (assign)'),
            el('input', { class: 'sos-note', placeholder: 'Ghi chú kết quả (closing note)' }),
            el('button', { type: 'button', class: 'sos-close', onclick: (e) => act(c.id, 'close', { note: e.target.previousElementSibling.value || '—' }) }, 'Hoàn tất (close)'))
        : null,
    );
  }

  function render() {
    const open = [...calls.values()].sort((a, b) => (a.status === 'closed') - (b.status === 'closed') || b.receivedAt.localeCompare(a.receivedAt));
    list.replaceChildren(...open.slice(0, 50).map(row));
    if (calls.size === 0 && !note.textContent) note.textContent = 'Chưa có yêu cầu cứu hộ (no SOS calls).';
  }

  function put(c) {
    // a live event has no unit list: keep the one the list gave
    calls.set(c.id, { units: calls.get(c.id)?.units, ...c });
    marker(c);
    render();
  }

  async function refresh() {
    stream?.close();
    const token = tokenOf();
    calls.clear();
    for (const m of markers.values()) m.remove();
    markers.clear();
    const r = token ? await getJson('/api/v1/sos', withToken(token)).catch(() => ({ ok: false, status: 0 })) : { ok: false, status: 401 };
    if (!r.ok) {
      list.replaceChildren();
      note.textContent = 'Đăng nhập với vai trò điều hành để xem yêu cầu cứu hộ (operators: sign in to see SOS calls).';
      return;
    }
    note.textContent = '';
    for (const c of r.body.calls) put(c);
    render();
    stream = new EventSource(token === SESSION_TOKEN ? '/api/v1/stream' : `/api/v1/stream?access_token=${encodeURIComponent(token)}`);
    stream.addEventListener('sos', (e) => put(JSON.parse(e.data)));
  }

  void refresh();
  return { refresh };
}
