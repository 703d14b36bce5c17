import type { Severity } from '../contract/alert.ts';
import { isMetric, METRICS } from '../contract/metrics.ts';
import type { Station } from '../platform/stations.ts';
import type { LevelTransition } from './level.ts';
import type { Rule, TemplateVar, TextOverrides } from './schema.ts';
import { ACTIVE, FLOOD_INSTRUCTION, RESOLVED, RESOLVED_LEVEL, TREND, windowText, type AlertTexts, type Lang, type Texts } from './texts.ts';

export type { AlertTexts } from './texts.ts';

/**
 * The words of an alert, in Vietnamese and English, from templates (texts.ts) that a rule may
 * override per rule or per level. Numbers use the Vietnamese decimal comma (3,15 m) as the
 * bulletins do; times are shown in Asia/Ho_Chi_Minh while the wire stays UTC.
 */

/**
 * CAP 1.2 §3.2.2 severity by alarm level, unless the rule says otherwise: level 1 is a warning to
 * prepare (Moderate), level 2 threatens property and roads (Severe), level 3 threatens life (Extreme).
 */
export function defaultSeverity(level: number): Severity {
  return level <= 1 ? 'Moderate' : level === 2 ? 'Severe' : 'Extreme';
}

const SEVERITY_STEPS: Severity[] = ['Minor', 'Moderate', 'Severe', 'Extreme'];
/** One CAP severity step up (an unacknowledged alert escalates); Extreme stays Extreme. */
export function nextSeverity(s: Severity): Severity {
  const i = SEVERITY_STEPS.indexOf(s);
  return i < 0 ? 'Moderate' : SEVERITY_STEPS[Math.min(i + 1, SEVERITY_STEPS.length - 1)]!;
}

export function levelName(level: number, lang: Lang): string {
  return lang === 'vi' ? `Báo động ${level}` : `alarm level ${level}`;
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
}

const flip = (t: Texts): Texts => ({ vi: t.vi.replaceAll('trên', 'dưới'), en: t.en.replaceAll('above', 'below') });

export function alertTexts({ rule, station, t, metric, levelName: named, category }: TextInput): AlertTexts {
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
  const digits = rule.kind === 'aqi' || rule.kind === 'staleness' ? 0 : meta?.unit === 'm' ? 2 : 1; // levels are read to the centimetre
  const overrides: TextOverrides[] = resolved ? [] : [spec ?? {}, rule];
  const out: AlertTexts = { headline: { vi: '', en: '' }, description: { vi: '', en: '' }, instruction: { vi: '', en: '' } };
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
      levelName: named?.[lang] ?? spec?.name?.[lang] ?? levelName(t.to, lang),
      trend: TREND[t.trend][lang],
      time: localTime(t.ts, lang),
      window: 'window' in rule ? windowText(rule.window, lang) : '',
      category: category?.[lang] ?? '',
    };
    for (const part of ['headline', 'description', 'instruction'] as const) {
      const template = overrides.map((o) => o[part]?.[lang]).find((x) => x !== undefined) ?? base[part][lang];
      out[part][lang] = fill(template, vars);
    }
  }
  return out;
}
