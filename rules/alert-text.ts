import type { Severity } from '../contract/alert.ts';
import type { RainWindowReading } from './rainfall.ts';
import { isMetric, METRICS } from '../contract/metrics.ts';
import type { Station } from '../contract/station.ts';
import type { LevelTransition } from './level.ts';
import type { Rule, TemplateVar, TextOverrides } from './schema.ts';
import { ACTIVE, FLOOD_INSTRUCTION, RESOLVED, RESOLVED_LEVEL, TREND, windowText, type AlertTexts, type Lang, type Texts } from './texts.ts';

export type { AlertTexts } from './texts.ts';

/**
 * The words of an alert, in Vietnamese and English, from templates (texts.ts) that a rule may
 * override per rule or per level. Numbers use the Vietnamese decimal comma (3,15 m) as the
 * bulletins do; times are shown in Asia/Ho_Chi_Minh while the wire stays UTC.
 */

export { defaultSeverity } from './severity.ts';

const SEVERITY_STEPS: Severity[] = ['Minor', 'Moderate', 'Severe', 'Extreme'];
/** One CAP severity step up (an unacknowledged alert escalates); Extreme stays Extreme. */
export function nextSeverity(s: Severity): Severity {
  const i = SEVERITY_STEPS.indexOf(s);
  return i < 0 ? 'Moderate' : SEVERITY_STEPS[Math.min(i + 1, SEVERITY_STEPS.length - 1)]!;
}

export function levelName(level: number, lang: Lang): string {
  return lang === 'vi' ? `Báo động ${level}` : `alarm level ${level}`;
}

/**
 * A level's name when the rule file gives none, in its hazard's words: "Báo động n" (báo động =
 * a river's flood alarm level) only for water-level rules; a device fault or silence names itself;
 * a composite is its event; anything else is "Mức n" / "level n".
 */
export function defaultLevelName(rule: TextInput['rule'], level: number, lang: Lang): string {
  switch (rule.kind) {
    case 'level':
      return rule.metric === 'water_level' ? levelName(level, lang) : lang === 'vi' ? `Mức ${level}` : `level ${level}`;
    case 'staleness':
      return lang === 'vi' ? 'Mất tín hiệu' : 'Offline';
    case 'sensor-fault':
      return lang === 'vi' ? 'Lỗi cảm biến' : 'Sensor fault';
    case 'composite':
      return rule.event[lang];
    default:
      return lang === 'vi' ? `Mức ${level}` : `level ${level}`;
  }
}

/** "1 giờ 12,0 mm; 3 giờ 35,2 mm (Mưa cường độ lớn); …": every window of a rain alert, shortest first. */
export function windowsText(windows: readonly RainWindowReading[], lang: Lang): string {
  return [...windows]
    .sort((a, b) => a.window - b.window)
    .map((w) => `${windowText(w.window, lang)} ${formatNumber(w.sum, lang, 1)} mm${w.name ? ` (${w.name[lang]})` : w.level > 0 ? ` (${lang === 'vi' ? 'mức' : 'level'} ${w.level})` : ''}`)
    .join('; ');
}

/** Local time as the console shows it (Asia/Ho_Chi_Minh); the wire stays UTC. */
export function localTime(ts: number, lang: Lang): string {
  const text = new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
    timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric', hour12: false,
  }).format(ts);
  return `${text} (${lang === 'vi' ? 'giờ Việt Nam' : 'Vietnam time'})`;
}

export function fill(template: string, vars: Record<TemplateVar, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(vars, name) ? vars[name as TemplateVar] : whole));
}

export function formatNumber(x: number, lang: Lang, digits: number): string {
  return x.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
}

export interface TextInput {
  rule: Exclude<Rule, { kind: 'release' }>;
  station: Station;
  t: LevelTransition;
  /** the metric the value is in (sensor faults: the faulty metric); default the rule's */
  metric?: string;
  /** the level's name (rain class, AQI category); default per level spec or "Báo động n" */
  levelName?: Texts;
  category?: Texts;
  /** rainfall: the deciding window (ms) and every window's sum and class */
  rain?: { window: number; windows: readonly RainWindowReading[] };
}

/** The words, and the name of the level they speak of (none once resolved): the event carries both. */
export type RuleAlertTexts = AlertTexts & { levelName?: Texts };

const flip = (t: Texts): Texts => ({ vi: t.vi.replaceAll('trên', 'dưới'), en: t.en.replaceAll('above', 'below') });

export function alertTexts({ rule, station, t, metric, levelName: named, category, rain }: TextInput): RuleAlertTexts {
  const metricName = metric ?? ('metric' in rule ? rule.metric : undefined);
  const meta = metricName && isMetric(metricName) ? METRICS[metricName] : undefined;
  const spec = 'levels' in rule ? rule.levels.find((l) => l.level === t.to) : undefined;
  const resolved = t.to === 0;
  const active = ACTIVE[rule.kind];
  const falling = rule.kind === 'level' && rule.direction === 'falling';
  const base: AlertTexts = resolved
    ? rule.kind === 'level' && !falling ? RESOLVED_LEVEL : RESOLVED
    : {
        headline: falling ? flip(active.headline) : active.headline,
        description: falling ? flip(active.description) : active.description,
        instruction: active.instruction ?? FLOOD_INSTRUCTION[Math.min(3, Math.max(1, t.to)) as 1 | 2 | 3],
      };
  const digits = rule.kind === 'aqi' || rule.kind === 'staleness' || rule.kind === 'fire-danger' ? 0 : meta?.unit === 'm' ? 2 : 1; // levels are read to the centimetre
  const overrides: TextOverrides[] = resolved ? [] : [spec ?? {}, rule];
  const out: RuleAlertTexts = { headline: { vi: '', en: '' }, description: { vi: '', en: '' }, instruction: { vi: '', en: '' } };
  const nameOf = (lang: Lang) => named?.[lang] ?? spec?.name?.[lang] ?? defaultLevelName(rule, t.to, lang);
  if (!resolved) out.levelName = { vi: nameOf('vi'), en: nameOf('en') };
  for (const lang of ['vi', 'en'] as const) {
    const vars: Record<TemplateVar, string> = {
      station: station.name,
      river: station.river ?? '',
      area: station.areaName,
      metric: meta?.[lang] ?? metricName ?? '',
      event: rule.event[lang],
      value: formatNumber(t.value, lang, digits),
      unit: rule.kind === 'aqi' ? '' : meta?.unit ?? '',
      threshold: formatNumber(t.threshold, lang, digits),
      level: String(t.to),
      levelName: nameOf(lang),
      trend: TREND[t.trend][lang],
      time: localTime(t.ts, lang),
      window: rain ? windowText(rain.window, lang) : 'window' in rule ? windowText(rule.window, lang) : '',
      category: category?.[lang] ?? '',
      windows: rain ? windowsText(rain.windows, lang) : '',
    };
    for (const part of ['headline', 'description', 'instruction'] as const) {
      const template = overrides.map((o) => o[part]?.[lang]).find((x) => x !== undefined) ?? base[part][lang];
      out[part][lang] = fill(template, vars);
    }
  }
  return out;
}
