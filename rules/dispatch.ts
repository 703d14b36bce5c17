import { METRICS, isMetric, type MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import { evaluateAccumulation } from './accumulation.ts';
import type { AqiResult } from './aqi.ts';
import { AQI_METRICS, AQI_SPAN, evaluateAqi } from './aqi-rule.ts';
import { compositeNeeds, evaluateComposite, type WindowOf } from './composite.ts';
import { evaluateLevel, type LevelResult, type LevelState } from './level.ts';
import { evaluateRainfall, type RainfallResult, type RainWindowReading } from './rainfall.ts';
import { evaluateRate } from './rate.ts';
import type { Rule } from './schema.ts';
import { evaluateSensorFault } from './sensor-fault.ts';
import { stalenessSeen } from './staleness.ts';
import type { AqiCategory, Standards } from './standards.ts';
import type { Texts } from './texts.ts';
import type { Sample } from './window.ts';

/**
 * One observation through one rule, whatever its kind: the pure step the engine (and the bench)
 * calls. No I/O and no clock of its own: `now` is passed in (staleness only), windows are given.
 */

export interface EvalContext {
  standards: Standards;
  windowOf(station: string, metric: MetricName): readonly Sample[];
}

export interface Outcome {
  result: LevelResult;
  /** CAP-ish `source` of the event this may cause */
  source: { station: string; metric: string; value: number; threshold: number };
  /** the metric the texts speak of */
  metric?: string;
  levelName?: Texts;
  category?: Texts;
  /** rainfall: the window that decides (ms) and every window's sum and class */
  rain?: { window: number; windows: RainWindowReading[] };
}

/** Windows a rule needs: (station, metric, span). Rules not listed need none. */
export function windowNeeds(rule: Rule): Array<{ station: string; metric: MetricName; span: number }> {
  switch (rule.kind) {
    case 'rate':
    case 'accumulation':
      return [{ station: rule.station, metric: rule.metric, span: rule.window }];
    case 'rainfall':
      return [{ station: rule.station, metric: rule.metric, span: Math.max(...rule.windows.map((w) => w.window)) }];
    case 'aqi':
      return AQI_METRICS.map((metric) => ({ station: rule.station, metric, span: AQI_SPAN }));
    case 'composite':
      return compositeNeeds(rule);
    default:
      return [];
  }
}

/** Does this observation concern the rule? (cheap, before any evaluation) */
export function concerns(rule: Rule, obs: Observation): boolean {
  if (rule.kind === 'composite') return rule.conditions.some((c) => c.station === obs.station && obs.values.some((v) => v.metric === c.metric));
  if (rule.station !== obs.station) return false;
  switch (rule.kind) {
    case 'level': case 'rate': case 'accumulation': case 'rainfall': return obs.values.some((v) => v.metric === rule.metric);
    case 'aqi': return obs.values.some((v) => (AQI_METRICS as readonly string[]).includes(v.metric));
    case 'release': case 'fire-danger': return false;
    default: return true;
  }
}

const thresholdOf = (r: LevelResult, fallback: number) => r.transition?.threshold ?? fallback;

/** What a rule's step derived besides its level result: enough to describe an event, on demand. */
export type RuleResult = LevelResult & Pick<RainfallResult, 'rain'> & {
  /** aqi */
  aqi?: AqiResult;
  category?: AqiCategory;
  /** sensor-fault: the reading that decided */
  reading?: Observation['values'][number];
};

/**
 * One observation through one rule: the new state and the transition, if any, and nothing else
 * (the engine's hot path: most readings change no alert and need no event description).
 */
export function evaluateResult(rule: Rule, state: LevelState, obs: Observation, ctx: EvalContext, now: number): RuleResult | undefined {
  switch (rule.kind) {
    case 'level': case 'rate': case 'accumulation': {
      const reading = valueOf(obs, rule.metric);
      if (!reading) return undefined;
      const input = { ts: obs.ts, value: reading.value, quality: reading.quality };
      return rule.kind === 'level' ? evaluateLevel(rule, state, input)
        : rule.kind === 'rate' ? evaluateRate(rule, state, ctx.windowOf(rule.station, rule.metric), input)
          : evaluateAccumulation(rule, state, ctx.windowOf(rule.station, rule.metric), input);
    }
    case 'rainfall': {
      const reading = valueOf(obs, rule.metric);
      if (!reading) return undefined;
      return evaluateRainfall(rule, state, ctx.windowOf(rule.station, rule.metric), { ts: obs.ts, value: reading.value, quality: reading.quality });
    }
    case 'aqi':
      return evaluateAqi(rule, ctx.standards, state, (m) => ctx.windowOf(rule.station, m), obs.ts);
    case 'sensor-fault':
      return evaluateSensorFault(rule, state, obs);
    case 'staleness':
      // offline means nothing received, whatever the readings' own times (a backfill is talking)
      return stalenessSeen(rule, state, obs.receivedAt ?? obs.ts, now);
    case 'composite':
      return evaluateComposite(rule, state, ctx.windowOf as WindowOf, obs.ts);
    case 'release':
    case 'fire-danger': // computed from the store on the tick (engine-ticks.ts), not per reading
      return undefined;
  }
}

function valueOf(obs: Observation, metric: string): Observation['values'][number] | undefined {
  for (const v of obs.values) if (v.metric === metric) return v;
  return undefined;
}

/** The Outcome of a step `evaluateResult` took: what an event built from it says (source, names). */
export function describeResult(rule: Rule, res: RuleResult, obs: Observation, ctx: EvalContext): Outcome {
  switch (rule.kind) {
    case 'level': case 'rate': case 'accumulation': {
      const out: Outcome = {
        result: res,
        source: { station: rule.station, metric: rule.metric, value: res.transition?.value ?? valueOf(obs, rule.metric)!.value, threshold: thresholdOf(res, rule.levels[0]!.value) },
      };
      const spec = res.transition && rule.levels.find((l) => l.level === res.transition!.to);
      if (spec && spec.name) out.levelName = spec.name;
      return out;
    }
    case 'rainfall': {
      const out: Outcome = {
        result: res,
        source: { station: rule.station, metric: rule.metric, value: res.transition?.value ?? valueOf(obs, rule.metric)!.value, threshold: thresholdOf(res, rule.levels[0]!.value) },
      };
      if (res.rain) {
        out.rain = res.rain;
        // the name of the deciding window's own class ("Mưa to" of 24 h), not only its rank's
        const decisive = res.rain.windows.find((w) => w.window === res.rain!.window);
        if (res.transition!.to > 0 && decisive?.name) out.levelName = decisive.name;
      }
      return out;
    }
    case 'aqi': {
      const cat = res.category && { vi: res.category.vi, en: res.category.name };
      return {
        result: res,
        source: { station: rule.station, metric: 'vn_aqi', value: res.aqi?.aqi ?? 0, threshold: thresholdOf(res, 0) },
        ...(cat ? { levelName: cat, category: cat } : {}),
      };
    }
    case 'sensor-fault': {
      const r = res.reading!;
      const range = isMetric(r.metric) ? METRICS[r.metric] : undefined;
      const bound = range ? (r.value < range.min ? range.min : range.max) : 0;
      return { result: res, source: { station: rule.station, metric: r.metric, value: r.value, threshold: bound }, metric: r.metric };
    }
    case 'staleness':
      return { result: res, source: { station: rule.station, metric: 'silence_min', value: res.transition?.value ?? 0, threshold: rule.maxSilence / 60_000 } };
    case 'composite': {
      const first = rule.conditions[0]!;
      const last = ctx.windowOf(first.station, first.metric).at(-1);
      return { result: res, source: { station: first.station, metric: first.metric, value: last?.value ?? 0, threshold: first.above ?? first.below ?? first.rises!.by } };
    }
    case 'release':
    case 'fire-danger':
      throw new Error(`${rule.kind} rules are not evaluated on observations`);
  }
}

/** `evaluateResult` and, when it took a step, `describeResult`: one observation through one rule. */
export function evaluateRule(rule: Rule, state: LevelState, obs: Observation, ctx: EvalContext, now: number): Outcome | undefined {
  const res = evaluateResult(rule, state, obs, ctx, now);
  return res && describeResult(rule, res, obs, ctx);
}
