import { describe, expect, it } from 'vitest';
import type { Observation } from '../contract/obs.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { initialLevelState, type LevelState } from './level.ts';
import { loadRuleFile } from './load.ts';
import type { SensorFaultRule } from './schema.ts';
import { evaluateSensorFault, STUCK_READINGS, STUCK_SPAN_MS } from './sensor-fault.ts';

const T0 = Date.parse('2025-11-02T00:00:00Z');
const MIN = 60_000;
const set = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations: loadStations(DEFAULT_STATIONS_FILE) });
const rule = (id: string) => set.rules.find((r) => r.id === id) as SensorFaultRule;

/** Runs readings [minute, value] of one metric through the rule; returns the transitions as `kind@minute`. */
function run(r: SensorFaultRule, metric: 'water_level' | 'rainfall' | 'pm25', readings: Array<[number, number]>, state: LevelState = initialLevelState()) {
  const seen: string[] = [];
  for (const [minute, value] of readings) {
    const obs: Observation = { station: r.station, device: 'd-1', ts: T0 + minute * MIN, values: [{ metric, value, unit: 'm', quality: 'ok' }, { metric: 'battery_v', value: 12.6, unit: 'V', quality: 'ok' }] };
    const res = evaluateSensorFault(r, state, obs)!;
    state = res.state;
    if (res.transition) seen.push(`${res.transition.kind}@${minute}`);
  }
  return { seen, state };
}

describe('sensor-fault: a stuck sensor (flat line)', () => {
  const kimLong = rule('sensor-fault.kim-long');
  const every10 = (from: number, to: number, value: (minute: number) => number): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let m = from; m <= to; m += 10) out.push([m, value(m)]);
    return out;
  };

  it('a river level repeating the same value for an hour raises a fault, and moving again ends it after holdFall', () => {
    expect(STUCK_SPAN_MS).toBe(60 * MIN);
    const live = (m: number) => 0.45 + 0.001 * (m % 7);
    const { seen } = run(kimLong, 'water_level', [...every10(0, 50, live), ...every10(60, 180, () => 0.512), ...every10(190, 260, live)]);
    // flat from minute 60: the 6th equal reading is at 110, but the run spans an hour only at 120
    expect(seen).toEqual(['raise@120', 'resolve@220']);
  });

  it('equal readings closer together than the span, or fewer than the count, are not a fault', () => {
    expect(STUCK_READINGS).toBe(6);
    // twelve equal readings in 55 minutes (slack tide on a centimetre gauge)
    expect(run(kimLong, 'water_level', Array.from({ length: 12 }, (_, i): [number, number] => [i * 5, 0.61])).seen).toEqual([]);
    // five readings two hours apart, all equal: too few to tell
    expect(run(kimLong, 'water_level', [0, 120, 240, 360, 480].map((m): [number, number] => [m, 0.61])).seen).toEqual([]);
  });

  it('a rain gauge reading 0 for hours is dry weather, not a stuck gauge', () => {
    expect(run(rule('sensor-fault.rg-hue'), 'rainfall', every10(0, 600, () => 0)).seen).toEqual([]);
  });

  it('a late reading neither extends nor breaks a flat line', () => {
    const { state } = run(kimLong, 'water_level', every10(0, 40, () => 0.7));
    const late = run(kimLong, 'water_level', [[15, 0.9]], state);
    expect(late.state).toBe(state);
    expect(run(kimLong, 'water_level', every10(50, 60, () => 0.7), late.state).seen).toEqual(['raise@60']);
  });
});
