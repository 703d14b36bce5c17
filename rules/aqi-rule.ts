import type { MetricName } from '../contract/metrics.ts';
import { category, hourlyAqi, type AqiResult } from './aqi.ts';
import { evaluateLevel, type LevelMachine, type LevelResult, type LevelState } from './level.ts';
import type { AqiRule } from './schema.ts';
import type { AqiCategory, Standards } from './standards.ts';
import { hourlyMeansInto, type Sample } from './window.ts';

/**
 * Air-quality alerts by VN_AQI category (Decision 1459/QĐ-TCMT): level 1 is the category `from`
 * (default "poor", AQI 101–150), each worse category one level more. The value is the hourly AQI
 * (NowCast for PM) recomputed on each observation from the station's last 12 h.
 */
export const AQI_METRICS = ['pm25', 'pm10', 'o3', 'co', 'so2', 'no2'] as const satisfies readonly MetricName[];
/** NowCast looks back 12 hours. */
export const AQI_SPAN = 12 * 3_600_000;

type AqiMachine = LevelMachine & { categories: AqiCategory[] };
/** machines per rule and standards: built once, not on every observation */
const machines = new WeakMap<AqiRule, { standards: Standards; machine: AqiMachine }>();

export function aqiMachine(rule: AqiRule, standards: Standards): AqiMachine {
  const cached = machines.get(rule);
  if (cached?.standards === standards) return cached.machine;
  const machine = buildMachine(rule, standards);
  machines.set(rule, { standards, machine });
  return machine;
}

function buildMachine(rule: AqiRule, standards: Standards): AqiMachine {
  const all = standards.vn_aqi.categories;
  const first = all.findIndex((c) => c.name === rule.from);
  const categories = all.slice(first);
  return {
    levels: categories.map((c, i) => ({ level: i + 1, value: c.min })),
    hysteresis: rule.hysteresis, holdRise: rule.holdRise, holdFall: rule.holdFall, categories,
  };
}

/** hourly means per pollutant, reused by every evaluation (single-threaded; hourlyAqi keeps no reference) */
const hours = Object.fromEntries(AQI_METRICS.map((m) => [m, new Array<number | undefined>(12)])) as Record<(typeof AQI_METRICS)[number], Array<number | undefined>>;

export function evaluateAqi(rule: AqiRule, standards: Standards, state: LevelState, windowOf: (metric: MetricName) => readonly Sample[], ts: number): LevelResult & { aqi?: AqiResult; category?: AqiCategory } {
  for (const m of AQI_METRICS) hourlyMeansInto(windowOf(m), ts, 12, hours[m]);
  const aqi = hourlyAqi(standards.vn_aqi.breakpoints, hours);
  if (!aqi) return { state }; // no PM in the last hours: no AQI (Decision 1459 requires PM10 or PM2.5)
  const res = evaluateLevel(aqiMachine(rule, standards), state, { ts, value: aqi.aqi, quality: 'ok' });
  return { ...res, aqi, category: category(standards.vn_aqi.categories, aqi.aqi) };
}
