// Forest-fire danger panel of the console: today's national level (I–V) of each forested district,
// from the Nesterov index the rules compute (GET /api/v1/fire-danger, rules/fire-danger.ts). Public
// data, as the rangers' roadside signboards are: no token needed.
import { el, getJson } from './api.js';

const POLL_MS = 60_000;
/** signboard colours of the five levels (config/vn-standards.json forest_fire_danger) */
const COLOURS = { green: '#2e9e44', blue: '#1f60c4', yellow: '#f2cc0c', orange: '#ff780a', red: '#e02f44' };

/** Draws one row per district into `table`, and the source or why it is empty into `note`. */
/** `onLevels({ district: colour })`: each district's level colour, for the map to fill. */
export function startFirePanel(table, note, onLevels = () => {}) {
  async function refresh() {
    const r = await getJson('/api/v1/fire-danger').catch(() => ({ ok: false, status: 0, body: {} }));
    if (!r.ok) {
      note.textContent = `Không tải được cấp cháy rừng (${r.status}) — fire danger unavailable.`;
      return;
    }
    onLevels(Object.fromEntries(r.body.districts.map((d) => [d.district, COLOURS[d.colour] ?? '#888'])));
    note.textContent = r.body.districts.length === 0 ? 'Chưa có trạm khí tượng (no weather stations).' : '';
    table.replaceChildren(
      el('tr', {}, el('th', {}, 'Huyện (District)'), el('th', {}, 'Cấp (Level)'), el('th', {}, 'Chỉ số P'), el('th', {}, 'Mưa gần nhất ≥ 5 mm (Last rain)')),
      ...r.body.districts.map((d) =>
        el('tr', { 'data-station': d.station, 'data-level': String(d.level) },
          el('td', {}, `${d.district} (${d.name})`),
          el('td', {}, el('span', { class: 'fire-level', style: `background:${COLOURS[d.colour] ?? '#888'}` }, d.roman), ` ${d.levelName.vi} (${d.levelName.en})`),
          el('td', { class: 'num' }, String(d.p)),
          el('td', {}, d.lastReset ?? '—'))),
    );
  }
  void refresh();
  setInterval(() => void refresh(), POLL_MS);
  return { refresh };
}
