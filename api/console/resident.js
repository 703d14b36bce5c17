// The residents' page: alerts in force for one area, in Vietnamese, updated live.
// /resident.html?area=kim-long
import { AlertBook, el, getJson, localTime, openAlertStream } from './api.js';

const $ = (id) => document.getElementById(id);
const book = new AlertBook();
const params = new URLSearchParams(location.search);
let area = params.get('area') ?? '';

async function main() {
  const st = await getJson('/api/v1/stations');
  const areas = new Map(st.body.stations.map((s) => [s.areaCode, s.areaName]));
  if (!areas.has(area)) area = [...areas.keys()][0] ?? '';
  $('area').replaceChildren(...[...areas].map(([code, name]) => el('option', { value: code, selected: code === area }, name)));
  $('area').onchange = () => {
    area = $('area').value;
    history.replaceState(null, '', `?area=${encodeURIComponent(area)}`);
    render();
  };
  await reload();
  openAlertStream((a) => book.put(a) && render(), reload);
  document.body.dataset.ready = 'true';
}

async function reload() {
  const r = await getJson('/api/v1/alerts?status=active,acknowledged');
  if (r.ok) for (const a of r.body.alerts) book.put(a);
  render();
}

function render() {
  const mine = book.open().filter((a) => a.area.codes.includes(area));
  const name = $('area').selectedOptions[0]?.textContent ?? area;
  $('summary').textContent = mine.length ? `${mine.length} cảnh báo đang có hiệu lực tại ${name}.` : `Hiện không có cảnh báo nào tại ${name}.`;
  $('alerts').replaceChildren(...mine.map((a) => el('li', { class: `alert level-${a.level}`, 'data-alert-id': a.id },
    el('h2', {}, a.headline.vi),
    el('p', { class: 'meta' }, `${a.event.vi} · ${a.area.name.vi} · cập nhật lúc ${localTime(a.sent)}`),
    el('p', {}, a.description.vi),
    el('p', { class: 'instruction' }, el('strong', {}, 'Khuyến cáo: '), a.instruction.vi),
  )));
}

main().catch((err) => { $('summary').textContent = `Không tải được cảnh báo: ${err.message}`; document.body.dataset.ready = 'error'; });
