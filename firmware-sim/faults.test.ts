import { describe, expect, it } from 'vitest';
import { faultList, faultPipeline, type FaultSpec, type SimMessage, type SimReading } from './faults.ts';

const T0 = Date.parse('2025-11-02T00:00:00Z');
const MIN = 60_000;
/** n readings of a calm river, one a minute: 0.500, 0.501, … */
const readings = (n: number): SimReading[] => Array.from({ length: n }, (_, i) => ({ ts: T0 + i * MIN, seq: i, m: { water_level: 0.5 + i / 1000, battery_v: 12.6 } }));
/** what goes on the wire, message by message, for these faults */
function wire(specs: FaultSpec[], n = 10, seed = 1): SimMessage[][] {
  const step = faultPipeline(specs, seed, 'sim-kim-long');
  return readings(n).map((r) => step(r));
}
const seqs = (out: SimMessage[][]) => out.flat().map((m) => (Array.isArray(m) ? m.map((r) => r.seq) : m.seq));
const levels = (out: SimMessage[][]) => out.flat().map((m) => (m as SimReading).m.water_level);

describe('SIM_FAULTS', () => {
  it('parses station:fault pairs, several per station', () => {
    expect(faultList.parse('kim-long:stuck, rg-hue:duplicate,rg-hue:gap')).toEqual({
      'kim-long': [{ kind: 'stuck' }],
      'rg-hue': [{ kind: 'duplicate' }, { kind: 'gap' }],
    });
  });

  it('names a bad entry and the faults there are', () => {
    const res = faultList.safeParse('kim-long:melted,rg-hue');
    expect(res.success).toBe(false);
    expect(res.error!.issues.map((i) => i.message)).toEqual([
      expect.stringContaining('"kim-long:melted": expected station:fault, fault one of stuck, spike, drift'),
      expect.stringContaining('"rg-hue"'),
    ]);
  });
});

describe('value faults', () => {
  it('stuck: from the 4th reading the level repeats the value it froze at; housekeeping goes on', () => {
    const out = wire([{ kind: 'stuck' }]);
    expect(levels(out)).toEqual([0.5, 0.501, 0.502, 0.503, 0.503, 0.503, 0.503, 0.503, 0.503, 0.503]);
    expect(out.flat().every((m) => (m as SimReading).m.battery_v === 12.6)).toBe(true);
  });

  it('spike: a logger error value far out of range, the first at onset, then seeded', () => {
    const a = levels(wire([{ kind: 'spike' }], 40, 7));
    expect(a.slice(0, 4)).toEqual([0.5, 0.501, 0.502, 1000]);
    const spikes = a.filter((v) => v === 1000).length;
    expect(spikes).toBeGreaterThan(2);
    expect(spikes).toBeLessThan(30);
    expect(levels(wire([{ kind: 'spike' }], 40, 7))).toEqual(a); // same seed, same spikes
    expect(levels(wire([{ kind: 'spike' }], 40, 8))).not.toEqual(a);
  });

  it('drift: an offset growing with reading time, downwards by default', () => {
    const out = levels(wire([{ kind: 'drift', perHour: 0.6 }]));
    expect(out[3]).toBe(0.503);
    expect(out[9]).toBeCloseTo(0.509 + 0.06, 6); // 6 minutes at 0.6 m/h
    expect(levels(wire([{ kind: 'drift' }]))[9]).toBeCloseTo(0.509 - 1.1, 6); // 110 m range / 10 h
  });

  it('clock-skew: the timestamps run ahead, the values are true', () => {
    const out = wire([{ kind: 'clock-skew', skewMs: 10 * MIN }]).flat() as SimReading[];
    expect(out.map((r) => (r.ts - T0) / MIN)).toEqual([0, 1, 2, 13, 14, 15, 16, 17, 18, 19]);
  });
});

describe('delivery faults', () => {
  it('gap: nothing after onset, for ever or for a number of readings', () => {
    expect(seqs(wire([{ kind: 'gap' }]))).toEqual([0, 1, 2]);
    expect(seqs(wire([{ kind: 'gap', readings: 4 }]))).toEqual([0, 1, 2, 7, 8, 9]);
  });

  it('duplicate: each reading goes out twice, same seq and ts', () => {
    const out = wire([{ kind: 'duplicate', after: 8 }]);
    expect(seqs(out)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9]);
    expect(out[8]![0]).toBe(out[8]![1]);
  });

  it('out-of-order: readings arrive in swapped pairs', () => {
    expect(seqs(wire([{ kind: 'out-of-order' }]))).toEqual([0, 1, 2, 4, 3, 6, 5, 8, 7]);
  });

  it('store-and-forward: silence during the outage, then the backlog as one array, oldest first, then the reading of now', () => {
    const out = wire([{ kind: 'store-and-forward', readings: 5 }]);
    expect(out.map((m) => m.length)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 2, 1]);
    expect(seqs(out)).toEqual([0, 1, 2, [3, 4, 5, 6, 7], 8, 9]);
  });

  it('faults combine: a stuck gauge behind a flaky link still sends its stuck value, twice', () => {
    const out = wire([{ kind: 'duplicate' }, { kind: 'stuck', after: 0 }], 5);
    expect(levels(out)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });
});
