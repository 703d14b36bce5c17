import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { loadRuleFile } from './load.ts';
import { alertQuality, ruleQuality, type QualityReading } from './quality.ts';

/** Hand-made readings and alert histories with known answers, against the shipped Kim Long rule. */

const T0 = Date.parse('2025-10-27T00:00:00Z');
const MIN = 60_000;
const rules = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations: loadStations(DEFAULT_STATIONS_FILE) }).rules;
const kimLong = rules.find((r) => r.id === 'flood-kim-long')!;

/** readings every 10 minutes from T0 */
const series = (...values: number[]): QualityReading[] => values.map((value, i) => ({ ts: T0 + i * 10 * MIN, value, quality: 'ok' }));
const at = (i: number) => T0 + i * 10 * MIN;

/** The fields the quality figures read; the rest of the CAP shape does not matter here. */
function ev(id: string, eventSeq: number, msgType: AlertEvent['msgType'], level: number, i: number): AlertEvent {
  const status = msgType === 'Cancel' ? 'resolved' : 'active';
  return {
    id, key: 'flood:kim-long', eventSeq, msgType, status, level,
    source: { station: 'kim-long', metric: 'water_level', value: 0, threshold: 0, observedAt: new Date(at(i)).toISOString() },
    sent: new Date(at(i) + 1000).toISOString(),
  } as AlertEvent;
}
const readingsOf = (values: QualityReading[]) => (station: string) => (station === 'kim-long' ? values : []);

describe('alert quality', () => {
  it('a flood alerted on every crossing reading: all crossings alerted, none missed or false, lead time from the raise to the peak', () => {
    //                 0    1    2    3    4    5    6    7    8    9    10
    const readings = series(0.5, 1.1, 1.6, 2.2, 3.0, 3.6, 3.8, 3.3, 2.4, 1.2, 0.6);
    const events = [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Update', 2, 3), ev('a', 3, 'Update', 3, 5), ev('a', 4, 'Update', 2, 8), ev('a', 5, 'Update', 1, 9), ev('a', 6, 'Cancel', 0, 10)];
    const q = ruleQuality(kimLong, readingsOf(readings), events);
    expect(q).toMatchObject({ crossings: 3, alerted: 3, late: 0, missed: 0, falseAlerts: 0, flaps: 0, peak: { ts: at(6), value: 3.8 } });
    expect(q.leadTimeMs).toBe(at(6) - at(1));
    expect(q.alerts).toEqual([expect.objectContaining({ id: 'a', raisedAt: at(1), resolvedAt: at(10), maxLevel: 3, leadTimeMs: at(6) - at(1), falseEvents: 0 })]);
  });

  it('an alert one reading behind its crossing is late, a level never alerted is missed', () => {
    const readings = series(0.5, 1.1, 1.3, 2.3, 2.4, 1.5, 0.5);
    const events = [ev('a', 1, 'Alert', 1, 2), ev('a', 2, 'Cancel', 0, 6)];
    const q = ruleQuality(kimLong, readingsOf(readings), events);
    expect(q.detail).toEqual([
      { level: 1, ts: at(1), value: 1.1, outcome: 'late', delayMs: 10 * MIN },
      { level: 2, ts: at(3), value: 2.3, outcome: 'missed' },
    ]);
    expect(q).toMatchObject({ crossings: 2, alerted: 0, late: 1, missed: 1, falseAlerts: 0 });
  });

  it('an alert with no crossing in the readings is false, and so is a step up past what the readings reached', () => {
    const readings = series(0.5, 0.6, 1.2, 1.3, 0.5);
    const events = [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Update', 2, 3), ev('a', 3, 'Cancel', 0, 4)];
    const q = ruleQuality(kimLong, readingsOf(readings), events);
    expect(q).toMatchObject({ crossings: 1, alerted: 1, falseAlerts: 2 });
    expect(q.alerts[0]!.falseEvents).toBe(2);
  });

  it('a step up on a reading the store has not written yet is pending, not false; once the reading is stored it is judged', () => {
    const stored = series(0.5, 1.1, 1.6, 2.2);
    const events = [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Update', 2, 3), ev('a', 3, 'Update', 3, 4)];
    expect(ruleQuality(kimLong, readingsOf(stored), events)).toMatchObject({ falseAlerts: 0, pending: 1 });
    // the reading arrives: 3.6 m is a crossing of level 3, so the step was true
    expect(ruleQuality(kimLong, readingsOf(series(0.5, 1.1, 1.6, 2.2, 3.6)), events)).toMatchObject({ falseAlerts: 0, pending: 0, alerted: 3 });
    // ... and a stored 2.4 m makes it false
    expect(ruleQuality(kimLong, readingsOf(series(0.5, 1.1, 1.6, 2.2, 2.4)), events)).toMatchObject({ falseAlerts: 1, pending: 0 });
  });

  it('a reading hovering at a level within the hysteresis is one crossing; a raise within the flap window after a resolve is a flap, hours later it is not', () => {
    // 1.0 ↔ 0.96 stays above 1.0 − 0.05: one crossing of level 1
    const hover = series(0.5, 1.0, 0.96, 1.02, 0.97, 1.01, 0.5);
    expect(ruleQuality(kimLong, readingsOf(hover), [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Cancel', 0, 6)])).toMatchObject({ crossings: 1, alerted: 1, flaps: 0 });

    const twice = series(0.5, 1.1, 0.5, 1.1, 0.5);
    const flapping = [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Cancel', 0, 2), ev('b', 1, 'Alert', 1, 3), ev('b', 2, 'Cancel', 0, 4)];
    expect(ruleQuality(kimLong, readingsOf(twice), flapping)).toMatchObject({ crossings: 2, alerted: 2, flaps: 1, falseAlerts: 0 });
    expect(ruleQuality(kimLong, readingsOf(twice), flapping, { flapWindowMs: 5 * MIN })).toMatchObject({ flaps: 0 });
  });

  it('the report covers only rules with crossings or alerts, and totals them: a 0.6 m rise in 10 minutes nobody alerted is a missed rate crossing', () => {
    const readings = series(0.5, 1.1, 0.5);
    const report = alertQuality(rules, readingsOf(readings), [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Cancel', 0, 2)]);
    expect(report.rules.map((r) => r.rule)).toEqual(['flood-kim-long', 'rise.kim-long']);
    expect(report.rules[0]).toMatchObject({ crossings: 1, alerted: 1 });
    expect(report.rules[1]).toMatchObject({ kind: 'rate', crossings: 1, missed: 1, alerts: [] });
    expect(report.totals).toEqual({ crossings: 2, alerted: 1, late: 0, missed: 1, falseAlerts: 0, flaps: 0, alerts: 1 });
  });

  it('over a period, a crossing and an alert already under way when it begins are context, not counted again', () => {
    const readings = series(0.5, 1.2, 1.3, 2.2, 1.1, 0.5);
    const events = [ev('a', 1, 'Alert', 1, 1), ev('a', 2, 'Update', 2, 3), ev('a', 3, 'Update', 1, 4), ev('a', 4, 'Cancel', 0, 5)];
    const q = ruleQuality(kimLong, readingsOf(readings), events, { from: at(2) });
    expect(q.detail).toEqual([{ level: 2, ts: at(3), value: 2.2, outcome: 'alerted' }]);
    expect(q).toMatchObject({ crossings: 1, falseAlerts: 0, peak: { ts: at(3), value: 2.2 } });
    expect(q.alerts.map((a) => a.id)).toEqual(['a']);
  });
});
