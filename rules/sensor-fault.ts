import type { Observation } from '../contract/obs.ts';
import { evaluateLevel, type LevelMachine, type LevelResult, type LevelState } from './level.ts';
import type { SensorFaultRule } from './schema.ts';

/**
 * A value outside the physical range (quality `out_of_range`, contract/metrics.ts) is a faulty
 * sensor, never a hazard (DESIGN.md "Wire contract"); Signal K keeps the two apart the same way.
 * Derived value: 1 while a watched reading is out of range, 0 when all are good; the fault ends after
 * `holdFall` of good readings.
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

export function evaluateSensorFault(rule: SensorFaultRule, state: LevelState, obs: Observation): (LevelResult & { reading?: Observation['values'][number] }) | undefined {
  let first: Observation['values'][number] | undefined;
  let bad: Observation['values'][number] | undefined;
  for (const v of obs.values) {
    if (rule.metrics && !rule.metrics.includes(v.metric)) continue;
    first ??= v;
    if (v.quality === 'out_of_range') {
      bad = v;
      break;
    }
  }
  if (!first) return undefined;
  const res = evaluateLevel(faultMachine(rule), state, { ts: obs.ts, value: bad ? 1 : 0, quality: 'ok' });
  return { ...res, reading: bad ?? first };
}
