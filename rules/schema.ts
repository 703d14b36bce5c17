import { z } from 'zod';
import { capCategory, severity, urgency } from '../contract/alert.ts';
import { METRIC_NAMES } from '../contract/metrics.ts';

/**
 * The rule file (config/rules.yaml): rules are data over a small set of rule kinds written in code
 * (DESIGN.md "Rules"). This module is the single source of truth for its shape; types come from
 * `z.infer`. Cross-checks that need the station catalogue or the whole file (station exists, unique
 * ids and keys) live in load.ts so that every problem is reported, not only the first.
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
export const TEMPLATE_VARS = ['event', 'station', 'river', 'area', 'metric', 'value', 'unit', 'threshold', 'level', 'levelName', 'trend', 'time'] as const;
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

export const levelSpec = z
  .object({
    /** domain level, e.g. flood alarm level 1–3 (Decision 05/2020/QĐ-TTg) */
    level: z.number().int().min(1),
    /** the level is reached when the reading is at or above this value, in the metric's unit */
    value: z.number(),
    /** CAP severity; default by level: 1 Moderate, 2 Severe, 3+ Extreme (alert-text.ts) */
    severity: severity.optional(),
    /** CAP urgency; default Immediate: the level is observed now */
    urgency: urgency.optional(),
    headline: templates.optional(),
    description: templates.optional(),
    instruction: templates.optional(),
  })
  .strict();

export const levelRule = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, { error: 'expected a lower-case id: a-z, 0-9, _ . -' }),
    kind: z.literal('level'),
    station: z.string().min(1),
    /** a metric of the catalogue (contract/metrics.ts); its unit is the unit of every value here */
    metric: z.enum(METRIC_NAMES, { error: (iss) => (iss.input === undefined ? 'required' : `unknown metric ${JSON.stringify(iss.input)}`) }),
    /** CAP `event`; its English slug starts the alert key (`flood:kim-long`) */
    event: z.object({ vi: z.string().min(1), en: z.string().min(1) }).strict(),
    /** CAP 1.2 §3.2.2: "Met – Meteorological (inc. flood)" */
    category: capCategory.default('Met'),
    /**
     * Only 'rising' for now (the level is exceeded from below). level.ts evaluates in an oriented
     * space, so 'falling' (e.g. a low-water level) is an enum value plus its checks here.
     */
    direction: z.literal('rising').default('rising'),
    levels: z
      .array(levelSpec)
      .min(1)
      .superRefine((levels, ctx) => {
        for (let i = 1; i < levels.length; i++) {
          const [prev, cur] = [levels[i - 1]!, levels[i]!];
          if (cur.level <= prev.level) ctx.addIssue({ code: 'custom', path: [i, 'level'], message: `levels must be strictly increasing: ${cur.level} after ${prev.level}` });
          if (cur.value <= prev.value) ctx.addIssue({ code: 'custom', path: [i, 'value'], message: `values must be strictly increasing: ${cur.value} after ${prev.value}` });
        }
      }),
    /** the reading must fall below value − hysteresis before a level can end, in metric units */
    hysteresis: z.number().nonnegative(),
    /** how long the reading must stay at/above a level before it fires; 0 = the first reading fires */
    holdRise: duration.default(0),
    /** how long the reading must stay below value − hysteresis before de-escalating or resolving */
    holdFall: duration,
    /** CAP `expires` = sent + this; absent = the alert does not expire by itself */
    expires: duration.optional(),
    /** radius of the alert circle around the station */
    radiusKm: z.number().positive().default(5),
  })
  .strict();

export const ruleFile = z
  .object({
    version: z.literal(1),
    rules: z.array(levelRule),
  })
  .strict();

/** Durations are milliseconds in these (output) types. */
export type LevelRule = z.infer<typeof levelRule>;
export type LevelSpec = z.infer<typeof levelSpec>;
export type RuleFile = z.infer<typeof ruleFile>;
export type Rule = LevelRule;

/** A loaded, validated and frozen rule file. */
export interface RuleSet {
  file: string;
  rules: readonly Rule[];
}

/** `flood:kim-long`: one alert per rule × station; load.ts rejects two rules with the same key. */
export function alertKey(rule: Rule): string {
  const slug = rule.event.en.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${slug || rule.id}:${rule.station}`;
}
