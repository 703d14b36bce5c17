import { describe, expect, it } from 'vitest';
import { buildDashboards, FOLDERS } from '../dashboards/build.ts';
import { metricLabel } from '../contract/metrics.ts';

/**
 * Issue #14 (5): the dashboards speak to people in Vietnamese first with English beside, as the
 * console does: every dashboard, folder, row and panel title, and every value axis that names a
 * quantity. (The queries are dashboards.test.ts's.)
 */
const VIETNAMESE = /[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]/i;
/** Vietnamese, then English in the last brackets: "Sông — mực nước … (Rivers — water levels …)" */
const bilingual = (s: string) => {
  const m = /^(.+) \(([^()]*[A-Za-z][^()]*)\)[^()]*$/.exec(s);
  return !!m && VIETNAMESE.test(m[1]!) && !VIETNAMESE.test(m[2]!);
};

describe('the dashboards in Vietnamese with English beside', () => {
  const built = buildDashboards();
  const panels = built.flatMap((b) => (b.dashboard.panels ?? []).map((p) => ({ uid: b.dashboard.uid, p: p as { type: string; title?: string; fieldConfig?: { defaults?: { custom?: { axisLabel?: string } } } } })));

  it('names every folder, dashboard, row and panel in both languages', () => {
    for (const f of Object.values(FOLDERS)) expect(bilingual(f.replace(/^HueWatch — /, '')), f).toBe(true);
    for (const b of built) expect(bilingual(b.dashboard.title!), b.dashboard.title).toBe(true);
    const titles = panels.map(({ p }) => p.title ?? '');
    expect(titles.length).toBeGreaterThan(20);
    const untranslated = titles.filter((t) => !bilingual(t));
    expect(untranslated).toEqual([]);
  });

  it('labels the value axis of every chart of a catalogue metric with its words and unit', () => {
    const axes = panels.filter(({ p }) => p.type === 'timeseries').map(({ uid, p }) => ({ uid, title: p.title, axis: p.fieldConfig?.defaults?.custom?.axisLabel }));
    // the platform's Prometheus charts count messages and seconds: no catalogue metric
    const measured = axes.filter((a) => a.uid !== 'huewatch-platform' || /Pin|Tín hiệu/.test(a.title ?? ''));
    for (const a of measured) expect(a.axis, `${a.uid} "${a.title}"`).toBeTruthy();
    expect(axes.find((a) => a.uid === 'huewatch-rivers')!.axis).toBe(metricLabel('water_level'));
    expect(metricLabel('water_level')).toBe('Mực nước (Water level), m');
    expect(metricLabel('inflow')).toBe('Lưu lượng đến hồ (Inflow), m³/s');
  });
});
