import type { Observation } from '../contract/obs.ts';
import { evaluateLevel, type LevelMachine, type LevelResult, type LevelState } from './level.ts';
import type { SensorFaultRule } from './schema.ts';

/**
 * A value outside the physical range (quality `out_of_range`, contract/metrics.ts) is a faulty
 * sensor, never a hazard (DESIGN.md "Wire contract"); Signal K keeps the two apart the same way.
 * Derived value: 1 while a watched reading is out of range, 0 when all are good; the fault ends after
 * `holdFall` of good readings.
 */
export function faultMachine(rule: SensorFaultRule): LevelMachine {
  return { levels: [{ level: 1, value: 1 }], hysteresis: 0, holdRise: 0, holdFall: rule.holdFall };
}

export function evaluateSensorFault(rule: SensorFaultRule, state: LevelState, obs: Observation): (LevelResult & { reading?: Observation['values'][number] }) | undefined {
  const watched = obs.values.filter((v) => !rule.metrics || rule.metrics.includes(v.metric));
  if (watched.length === 0) return undefined;
  const bad = watched.find((v) => v.quality === 'out_of_range');
  const res = evaluateLevel(faultMachine(rule), state, { ts: obs.ts, value: bad ? 1 : 0, quality: 'ok' });
  return { ...res, reading: bad ?? watched[0] };
}
