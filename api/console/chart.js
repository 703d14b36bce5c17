// A small SVG time chart: one series, the station's alarm levels as dashed lines, labelled by the
// caller (`levelLabel`: a river's "BĐ1"…; default "Mức 1"…).
import { STATE_COLOURS, svg } from './api.js';

const W = 640, H = 220, L = 48, R = 70, T = 12, B = 28;

export function drawChart(host, { points, from, to, unit, levels, levelLabel = (lvl) => `Mức ${lvl}` }) {
  const vals = points.map((p) => p.value);
  const levelVals = Object.values(levels);
  const all = [...vals, ...levelVals];
  let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const span = hi - lo; lo -= span * 0.08; hi += span * 0.08;
  const x = (t) => L + ((t - from) / (to - from)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', 'data-points': points.length });
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e3e3' }), svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toFixed(2)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = from + ((to - from) * i) / 4;
    const label = new Intl.DateTimeFormat('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit' }).format(new Date(t));
    root.append(svg('text', { x: x(t), y: H - 8, 'text-anchor': 'middle', class: 'tick' }, label));
  }
  for (const [lvl, v] of Object.entries(levels)) {
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: STATE_COLOURS[`level-${lvl}`] ?? '#e02f44', 'stroke-dasharray': '6 4', 'stroke-width': 1.5, class: 'alarm-level', 'data-level': lvl }),
      svg('text', { x: W - R + 4, y: y(v) + 4, class: 'tick alarm-label', 'data-level': lvl }, `${levelLabel(lvl)} ${v} ${unit}`));
  }
  if (points.length) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(Date.parse(p.ts)).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
    root.append(svg('path', { d, fill: 'none', stroke: '#1f77b4', 'stroke-width': 2, class: 'series' }));
    const last = points.at(-1);
    root.append(svg('circle', { cx: x(Date.parse(last.ts)), cy: y(last.value), r: 3.5, fill: '#1f77b4' }));
  } else {
    root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'Chưa có số liệu / no data'));
  }
  host.replaceChildren(root);
}
