// Alert quality panel of the console: per rule, over the last 7 days, the level crossings in the
// readings and how the alerts met them (GET /api/v1/alerts/quality, rules/quality.ts). A viewer
// token or higher: the figures cover operators' alerts too.
import { el, getJson, withToken } from './api.js';

const POLL_MS = 15_000;
const hours = (ms) => (ms === null || ms === undefined ? '–' : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);

// [key, Vietnamese, English beside it, what it counts]
const COLUMNS = [
  ['crossings', 'Vượt ngưỡng', 'Crossings', 'crossings of a level in the readings'],
  ['alerted', 'Kịp thời', 'On time', 'alerted on the crossing reading'],
  ['late', 'Trễ', 'Late', 'alerted after the crossing reading'],
  ['missed', 'Bỏ sót', 'Missed', 'a crossing with no alert'],
  ['falseAlerts', 'Sai', 'False', 'false alerts'],
  ['flaps', 'Dao động', 'Flaps', 'raised again within 1 h of resolving'],
];

/** Draws the panel into `table` (and a summary or why it is empty into `note`), polling while a token is set. */
export function startQualityPanel(table, note, tokenOf) {
  async function refresh() {
    const token = tokenOf();
    if (!token) {
      table.replaceChildren();
      note.textContent = 'Đăng nhập để xem chất lượng cảnh báo (log in to see alert quality).';
      return;
    }
    const r = await getJson('/api/v1/alerts/quality', withToken(token)).catch(() => ({ ok: false, status: 0, body: {} }));
    if (!r.ok) {
      note.textContent = `Không tải được chất lượng cảnh báo (${r.status})${r.body?.code ? ` [${r.body.code}]` : ''}.`;
      return;
    }
    const { totals, rules } = r.body;
    note.dataset.missed = String(totals.missed);
    note.textContent = `7 ngày qua · last 7 days: ${totals.crossings} lần vượt ngưỡng, ${totals.missed + totals.late} bỏ sót/trễ, ${totals.falseAlerts} sai, ${totals.flaps} dao động · ${totals.alerts} cảnh báo`;
    const head = el('tr', {}, el('th', {}, 'Quy tắc (Rule)'), ...COLUMNS.map(([, vi, en, what]) => el('th', { title: what }, `${vi} (${en})`)), el('th', { title: 'first alert before the peak' }, 'Đi trước đỉnh (Lead time)'));
    table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rules.map((q) => {
      const bad = q.missed + q.late + q.falseAlerts + q.flaps > 0;
      return el('tr', { class: bad ? 'quality bad' : 'quality', 'data-rule': q.rule, 'data-missed': String(q.missed), 'data-false': String(q.falseAlerts) },
        el('td', {}, q.rule),
        ...COLUMNS.map(([k]) => el('td', { 'data-col': k }, q.measured || k === 'flaps' ? String(q[k]) : '–')),
        el('td', { 'data-col': 'lead' }, hours(q.leadTimeMs)));
    })));
  }
  refresh();
  setInterval(refresh, POLL_MS);
  return { refresh };
}
