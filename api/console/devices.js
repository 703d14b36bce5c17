// Devices panel of the console: each registered device online/offline with the time of the
// change, from GET /api/v1/devices/status (a viewer token or higher: the inventory is not public).
import { el, getJson, localTime, withToken } from './api.js';

const POLL_MS = 5_000;

/** Draws the panel into `list` (and why it is empty into `note`), polling while a token is set. */
export function startDevicePanel(list, note, tokenOf) {
  async function refresh() {
    const token = tokenOf();
    if (!token) {
      list.replaceChildren();
      note.textContent = 'Đăng nhập để xem thiết bị (log in to see devices).';
      return;
    }
    const r = await getJson('/api/v1/devices/status', withToken(token)).catch(() => ({ ok: false, status: 0, body: {} }));
    if (!r.ok) {
      note.textContent = `Không tải được trạng thái thiết bị (${r.status})${r.body?.code ? ` [${r.body.code}]` : ''}.`;
      return;
    }
    const devices = r.body.devices;
    const online = devices.filter((d) => d.online === true).length;
    note.textContent = `${online}/${devices.length} trực tuyến · online`;
    list.replaceChildren(...devices.map((d) => {
      const state = d.online === null ? 'unknown' : d.online ? 'online' : 'offline';
      const label = { online: 'trực tuyến · online', offline: 'mất kết nối · offline', unknown: 'chưa kết nối · never seen' }[state];
      return el('li', { class: `device ${state}`, 'data-device': d.deviceId, 'data-online': state, 'data-changed-at': d.changedAt ?? '' },
        el('strong', {}, d.deviceId), ' ', el('span', { class: 'state' }, label),
        d.changedAt ? el('span', { class: 'since' }, ` từ ${localTime(d.changedAt)}`) : null,
        d.fw ? el('span', { class: 'fw' }, ` · fw ${d.fw}`) : null);
    }));
  }
  refresh();
  setInterval(refresh, POLL_MS);
  return { refresh };
}
