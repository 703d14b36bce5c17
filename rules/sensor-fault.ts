import { isMetric, METRICS } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import { evaluateLevel, type LevelMachine, type LevelResult, type LevelState } from './level.ts';
import type { SensorFaultRule } from './schema.ts';

/**
 * A value outside the physical range (quality `out_of_range`, contract/metrics.ts) is a faulty
 * sensor, never a hazard (DESIGN.md "Wire contract"); Signal K keeps the two apart the same way.
 * Derived value: 1 while a watched reading is out of range, 0 when all are good; the fault ends after
 * `holdFall` of good readings. A transition carries the raw reading and the range bound, for the texts.
 * A stuck sensor (below) is a fault too.
 */
const machines = new WeakMap<SensorFaultRule, LevelMachine>();

export function faultMachine(rule: SensorFaultRule): LevelMachine {
  let m = machines.get(rule);
  if (!m) machines.set(rule, (m = buildMachine(rule)));
  return m;
}

function buildMachine(rule: SensorFaultRule): LevelMachine {
  return { levels: [{ level: 1, value: 1 }], hysteresis: 0, holdRise: 0, holdFall: rule.holdFall };
}

/**
 * (U) A stuck sensor, after the QARTOD flat-line test (IOOS, 2021): a metric that always moves (a
 * river's tide and noise, particulates) reading exactly the same value on STUCK_READINGS readings in
 * a row spanning at least STUCK_SPAN_MS. Rain (often 0 for days) and device metrics are not watched;
 * nor is a reservoir's level, which a large lake can hold to the centimetre for hours.
 */
const FLATLINE_METRICS: ReadonlySet<string> = new Set(['water_level', 'pm25', 'pm10']);
export const STUCK_READINGS = 6;
export const STUCK_SPAN_MS = 3_600_000;

type FlatRuns = Record<string, { value: number; since: number; n: number }>;
/** The level state plus the current run of equal values per watched metric (plain JSON, persisted). */
type FaultState = LevelState & { flat?: FlatRuns };
type Value = Observation['values'][number];

/** The runs after this observation, and the reading that has been flat too long, if any. */
function flatLine(rule: SensorFaultRule, runs: FlatRuns | undefined, obs: Observation): { flat: FlatRuns; stuck?: Value } {
  const flat: FlatRuns = { ...runs };
  let stuck: Value | undefined;
  for (const v of obs.values) {
    if (!FLATLINE_METRICS.has(v.metric) || v.quality !== 'ok' || (rule.metrics && !rule.metrics.includes(v.metric))) continue;
    const run = flat[v.metric];
    const next = run && run.value === v.value ? { ...run, n: run.n + 1 } : { value: v.value, since: obs.ts, n: 1 };
    flat[v.metric] = next;
    if (next.n >= STUCK_READINGS && obs.ts - next.since >= STUCK_SPAN_MS) stuck ??= v;
  }
  return stuck ? { flat, stuck } : { flat };
}

export function evaluateSensorFault(rule: SensorFaultRule, state: LevelState, obs: Observation): (LevelResult & { reading?: Value; stuck?: boolean }) | undefined {
  let first: Value | undefined;
  let bad: Value | undefined;
  for (const v of obs.values) {
    if (rule.metrics && !rule.metrics.includes(v.metric)) continue;
    first ??= v;
    if (v.quality === 'out_of_range') {
      bad = v;
      break;
    }
  }
  if (!first) return undefined;
  // a late reading changes nothing (the machine ignores it): nor does it extend a flat line
  const late = state.lastTs !== null && obs.ts <= state.lastTs;
  const { flat, stuck } = late ? { flat: undefined, stuck: undefined } : flatLine(rule, (state as FaultState).flat, obs);
  const res = evaluateLevel(faultMachine(rule), state, { ts: obs.ts, value: bad || stuck ? 1 : 0, quality: 'ok' });
  if (flat) res.state = { ...res.state, flat } as FaultState;
  const reading = bad ?? stuck ?? first;
  if (!res.transition) return { ...res, reading };
  if (!bad && stuck) return { ...res, transition: { ...res.transition, value: stuck.value, threshold: stuck.value }, reading, stuck: true };
  // The machine runs on a 0/1 flag; what people read is the raw value that decided and the bound
  // of the physical range it broke ("reads 150.00 m", not the flag's "1.00 m").
  const range = isMetric(reading.metric) ? METRICS[reading.metric] : undefined;
  const bound = range ? (reading.value < range.min ? range.min : range.max) : res.transition.threshold;
  return { ...res, transition: { ...res.transition, value: reading.value, threshold: bound }, reading };
}
