import { z } from 'zod';
import { capCategory, localized, severity, urgency } from '../contract/alert.ts';
import { METRIC_NAMES } from '../contract/metrics.ts';

/**
 * The rule file (config/rules.yaml): rules are data over a small set of rule kinds written in code
 * (DESIGN.md "Rules"). This module is the single source of truth for its shape; types come from
 * `z.infer`. Cross-checks that need the station catalogue, the standards or the whole file (station
 * exists, unique ids and keys, alarm levels as decreed) live in load.ts so that every problem is
 * reported, not only the first.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:\d+(?:ms|s|m|h|d))+$/;

/** `30s`, `15m`, `1h30m`, `0s` → milliseconds. */
export function parseDuration(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms;
}

/** A duration written as a string (`10m`, `1h`, `30s`, `1h30m`); parsed to milliseconds. */
export const duration = z
  .string({ error: (iss) => (iss.input === undefined ? 'required (a duration such as 15m)' : 'expected a duration such as 30s, 15m, 1h') })
  .regex(DURATION, { error: 'expected a duration such as 30s, 15m, 1h (units ms, s, m, h, d)' })
  .transform(parseDuration);

/** Placeholders a headline/description/instruction template may use (filled by alert-text.ts). */
export const TEMPLATE_VARS = ['event', 'station', 'river', 'area', 'metric', 'value', 'unit', 'threshold', 'level', 'levelName', 'trend', 'time', 'window', 'category', 'windows'] as const;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];

const template = z.string().min(1).superRefine((text, ctx) => {
  for (const m of text.matchAll(/\{([^{}]*)\}/g)) {
    if (!(TEMPLATE_VARS as readonly string[]).includes(m[1] ?? '')) {
      ctx.addIssue({ code: 'custom', message: `unknown placeholder {${m[1]}} (known: ${TEMPLATE_VARS.join(', ')})` });
    }
  }
});
/** Either language may be overridden alone; the other keeps the built-in text. */
const templates = z.object({ vi: template.optional(), en: template.optional() }).strict();
const textOverrides = { headline: templates.optional(), description: templates.optional(), instruction: templates.optional() };
export type TextOverrides = { headline?: { vi?: string; en?: string }; description?: { vi?: string; en?: string }; instruction?: { vi?: string; en?: string } };

const metric = z.enum(METRIC_NAMES, { error: (iss) => (iss.input === undefined ? 'required' : `unknown metric ${JSON.stringify(iss.input)}`) });

export const levelSpec = z
  .object({
    /** domain level, e.g. flood alarm level 1–3 (Decision 05/2020/QĐ-TTg) */
    level: z.number().int().min(1),
    /** the level is reached at or beyond this value (above it when rising, below when falling) */
    value: z.number(),
    /** the level's name in texts, e.g. "mực nước dâng bình thường"; default "Báo động {level}" */
    name: localized.strict().optional(),
    /** CAP severity; default by level: 1 Moderate, 2 Severe, 3+ Extreme (alert-text.ts) */
    severity: severity.optional(),
    /** CAP urgency; default Immediate: the level is observed now */
    urgency: urgency.optional(),
    ...textOverrides,
  })
  .strict();

/** Level numbers strictly increasing; values strictly monotonic (load.ts checks the direction). */
const levels = z
  .array(levelSpec)
  .min(1)
  .superRefine((levels, ctx) => {
    const up = levels.length < 2 || levels[1]!.value >= levels[0]!.value;
    for (let i = 1; i < levels.length; i++) {
      const [prev, cur] = [levels[i - 1]!, levels[i]!];
      if (cur.level <= prev.level) ctx.addIssue({ code: 'custom', path: [i, 'level'], message: `levels must be strictly increasing: ${cur.level} after ${prev.level}` });
      if (up ? cur.value <= prev.value : cur.value >= prev.value) ctx.addIssue({ code: 'custom', path: [i, 'value'], message: `values must be strictly ${up ? 'increasing' : 'decreasing'}: ${cur.value} after ${prev.value}` });
    }
  });

/** Unacknowledged for `after`: one Update with a higher severity and more channels (issue #4). */
const ackWithin = z
  .object({
    after: duration,
    /** 'next' = one CAP severity step up (Minor → Moderate → Severe → Extreme) */
    severity: z.union([z.literal('next'), severity]).default('next'),
    /** notification channels to add (SMS, siren, loudspeaker…): carried in the history cause */
    channels: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** Fields every kind has. `station` or `stations` (expanded at load into one rule per station). */
const common = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, { error: 'expected a lower-case id: a-z, 0-9, _ . -' }),
  station: z.string().min(1).optional(),
  stations: z.array(z.string().min(1)).min(1).optional(),
  /** CAP `event`; its English slug starts the alert key (`flood:kim-long`) */
  event: localized.strict(),
  /** CAP 1.2 §3.2.2: "Met – Meteorological (inc. flood)" */
  category: capCategory.default('Met'),
  /** 'operators' alerts go to area code `operators`, not to residents (device faults, dam operation) */
  audience: z.enum(['public', 'operators']).default('public'),
  /** CAP `expires` = sent + this; absent = the alert does not expire by itself */
  expires: duration.optional(),
  /** radius of the alert circle around the station */
  radiusKm: z.number().positive().default(5),
  ackWithin: ackWithin.optional(),
  /**
   * a reading received more than this after its ts is not current: stored and recorded, never an
   * alert change (lateness.ts); default by station kind: river and rain 1h, reservoir 2h, air 3h
   */
  maxLag: duration.optional(),
  ...textOverrides,
};

/** The shared zones machine (level.ts): hysteresis and hold times. */
const machine = {
  levels,
  /** the value must be back by this much (metric units) before a level can end */
  hysteresis: z.number().nonnegative(),
  /** how long the value must stay at/beyond a level before it fires; 0 = the first reading fires */
  holdRise: duration.default(0),
  /** how long the value must stay back past value − hysteresis before de-escalating or resolving */
  holdFall: duration,
};

export const levelRule = z.object({
  ...common, kind: z.literal('level'), metric, ...machine,
  /** 'falling' = the level is passed from above, e.g. a reservoir below its dead level */
  direction: z.enum(['rising', 'falling']).default('rising'),
}).strict();

/** Rise of `metric` within `window`: the reading minus the lowest reading of the window. */
export const rateRule = z.object({ ...common, kind: z.literal('rate'), metric, window: duration, ...machine }).strict();

/** Sum of `metric` (rainfall: mm in the interval ending at ts) over the rolling `window`. */
export const accumulationRule = z.object({ ...common, kind: z.literal('accumulation'), metric: metric.default('rainfall'), window: duration, ...machine }).strict();

/** One window of a `rainfall` rule: its own classes; hysteresis and holds default to the rule's. */
export const rainWindow = z.object({
  window: duration,
  levels,
  hysteresis: z.number().nonnegative().optional(),
  holdRise: duration.optional(),
  holdFall: duration.optional(),
}).strict();

/**
 * Rain over several rolling windows, ONE alert per station at the worst class across them
 * (rules/rainfall.ts): each window runs its own zones machine; load.ts ranks every window's
 * classes on one scale (CAP severity, then the window's own level number) into `levels`.
 */
export const rainfallRule = z.object({
  ...common, kind: z.literal('rainfall'), metric: metric.default('rainfall'),
  windows: z.array(rainWindow).min(1).superRefine((ws, ctx) => {
    const seen = new Set<number>();
    ws.forEach((w, i) => {
      if (seen.has(w.window)) ctx.addIssue({ code: 'custom', path: [i, 'window'], message: 'each window may appear once' });
      seen.add(w.window);
    });
  }),
  hysteresis: z.number().nonnegative(),
  holdRise: duration.default(0),
  holdFall: duration,
}).strict();

/** VN_AQI (Decision 1459/QĐ-TCMT), hourly with NowCast for PM; alerts from category `from` up. */
export const aqiRule = z.object({
  ...common, kind: z.literal('aqi'),
  from: z.enum(['moderate', 'poor', 'bad', 'very bad', 'hazardous']).default('poor'),
  hysteresis: z.number().nonnegative().default(5),
  holdRise: duration.default(0),
  holdFall: duration,
}).strict();

/** No observation from the station for longer than `maxSilence`: device offline. */
export const stalenessRule = z.object({ ...common, kind: z.literal('staleness'), maxSilence: duration }).strict();

/** A reading flagged out_of_range: the sensor is faulty; ends after `holdFall` of good readings. */
export const sensorFaultRule = z.object({ ...common, kind: z.literal('sensor-fault'), metrics: z.array(metric).optional(), holdFall: duration }).strict();

export const condition = z.object({
  station: z.string().min(1),
  metric,
  /** at or above */
  above: z.number().optional(),
  /** at or below */
  below: z.number().optional(),
  /** risen by at least `by` within `within` */
  rises: z.object({ by: z.number().positive(), within: duration }).strict().optional(),
  /** a condition on a reading older than this is false: no decision on stale data */
  maxAge: duration.default(3_600_000),
}).strict().refine((c) => [c.above, c.below, c.rises].filter((x) => x !== undefined).length === 1, { error: 'exactly one of above, below, rises' });

/** AND (`all`) or OR (`any`) of conditions, possibly on other stations; one level. */
export const compositeRule = z.object({
  ...common, kind: z.literal('composite'),
  op: z.enum(['all', 'any']),
  conditions: z.array(condition).min(1),
  severity: severity.default('Severe'),
  urgency: urgency.default('Immediate'),
  holdRise: duration.default(0),
  holdFall: duration.default(0),
}).strict();

/** Where an operator's release order is announced (Decision 1606/QĐ-TTg): communes downstream. */
export const releaseRule = z.object({
  ...common, kind: z.literal('release'),
  downstream: z.array(z.object({ code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/), name: localized.strict() }).strict()).min(1),
}).strict();

/**
 * Forest-fire danger of a weather station (rules/fire-danger.ts): the Nesterov index P, computed
 * from the store on the engine's tick (not from a reading), through the zones machine. `levels`
 * are the national danger levels that alert (IV and V: config/vn-standards.json), by their P bound.
 */
export const fireDangerRule = z.object({
  ...common, kind: z.literal('fire-danger'),
  category: capCategory.default('Fire'),
  levels,
  hysteresis: z.number().nonnegative().default(0),
  holdRise: duration.default(0),
  holdFall: duration.default(0),
  /** a day with this much rain (mm) sets P back to 0; default the national rule (vn-standards.json) */
  resetRainMm: z.number().positive().optional(),
  /** how far back the index is read: longer than any dry spell, so the last reset is inside it */
  lookback: duration.default(60 * 86_400_000),
  /** how often P is computed again from the store */
  every: duration.default(60_000),
}).strict();

export const anyRule = z.discriminatedUnion('kind', [levelRule, rateRule, accumulationRule, rainfallRule, aqiRule, stalenessRule, sensorFaultRule, compositeRule, releaseRule, fireDangerRule]);

export const ruleFile = z.object({ version: z.literal(1), rules: z.array(anyRule) }).strict();

/** After load every rule has exactly one station (`stations` expanded); durations are ms. */
type Placed<T> = Omit<T, 'station' | 'stations'> & { station: string };
export type LevelRule = Placed<z.infer<typeof levelRule>>;
export type RateRule = Placed<z.infer<typeof rateRule>>;
export type AccumulationRule = Placed<z.infer<typeof accumulationRule>>;
/** `levels`: the windows' classes on one scale, built at load (load.ts, rainfall.ts `rainScale`). */
export type RainfallRule = Placed<z.infer<typeof rainfallRule>> & { levels: readonly RainLevel[] };
export type RainWindow = z.infer<typeof rainWindow>;
/** A class of the combined rain scale: the level spec of the window class it stands for. */
export type RainLevel = LevelSpec & { window: number; windowLevel: number };
export type AqiRule = Placed<z.infer<typeof aqiRule>>;
export type StalenessRule = Placed<z.infer<typeof stalenessRule>>;
export type SensorFaultRule = Placed<z.infer<typeof sensorFaultRule>>;
export type CompositeRule = Placed<z.infer<typeof compositeRule>>;
export type ReleaseRule = Placed<z.infer<typeof releaseRule>>;
export type FireDangerRule = Placed<z.infer<typeof fireDangerRule>>;
export type Condition = z.infer<typeof condition>;
export type LevelSpec = z.infer<typeof levelSpec>;
export type Rule = LevelRule | RateRule | AccumulationRule | RainfallRule | AqiRule | StalenessRule | SensorFaultRule | CompositeRule | ReleaseRule | FireDangerRule;
export type RawRule = z.infer<typeof anyRule>;

/** A loaded, validated and frozen rule file. */
export interface RuleSet {
  file: string;
  rules: readonly Rule[];
}

/** `flood:kim-long`: one alert per rule × station; load.ts rejects two rules with the same key. */
export function alertKey(rule: { event: { en: string }; id: string; station: string }): string {
  const slug = rule.event.en.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${slug || rule.id}:${rule.station}`;
}
