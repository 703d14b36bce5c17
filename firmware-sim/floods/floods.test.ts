import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../../platform/stations.ts';
import { rainfall, replayOf, resolveScenario, riverLevel, scenarioEndS } from '../scenarios.ts';
import { defineFlood, interpolate } from './hydrograph.ts';
import { FLOOD_REPLAYS, REPLAY_NAMES } from './index.ts';

/** The recorded floods as the simulator plays them: the published values come out as published. */

const stations = loadStations(DEFAULT_STATIONS_FILE);
const byId = (id: string) => stations.find((s) => s.id === id)!;
const p = resolveScenario({ seed: 3 });
const at = (name: keyof typeof FLOOD_REPLAYS, iso: string) => (Date.parse(iso) - FLOOD_REPLAYS[name].startMs) / 1000;

describe('recorded flood replays', () => {
  it('reads the published levels at their hours, to the centimetre: 2017 Phú Ốc 4.98 m, 2020 Phú Ốc 5.24 m, 2025 Kim Long 4.93 m and Phú Ốc 5.27 m', () => {
    expect(riverLevel(byId('phu-oc'), 'flood-2017', at('flood-2017', '2017-11-05T09:00+07:00'), p)).toBeCloseTo(4.98, 1);
    expect(riverLevel(byId('kim-long'), 'flood-2017', at('flood-2017', '2017-11-05T09:00+07:00'), p)).toBeCloseTo(3.63, 1);
    expect(riverLevel(byId('phu-oc'), 'flood-2020', at('flood-2020', '2020-10-09T23:00+07:00'), p)).toBeCloseTo(5.24, 1);
    expect(riverLevel(byId('kim-long'), 'flood-2025', at('flood-2025', '2025-10-29T20:00+07:00'), p)).toBeCloseTo(4.93, 1);
    expect(riverLevel(byId('phu-oc'), 'flood-2025', at('flood-2025', '2025-10-29T18:00+07:00'), p)).toBeCloseTo(5.27, 1);
    expect(riverLevel(byId('kim-long'), 'flood-2025', at('flood-2025', '2025-10-30T07:00+07:00'), p)).toBeCloseTo(3.72, 1);
  });

  it('keeps the double peak of 27 and 29 October 2025: Kim Long falls below BĐ3 + 0.2 m between them', () => {
    const kl = byId('kim-long');
    const level = (iso: string) => riverLevel(kl, 'flood-2025', at('flood-2025', iso), p);
    expect(level('2025-10-27T22:00+07:00')).toBeGreaterThan(5);
    expect(level('2025-10-29T08:00+07:00')).toBeLessThan(3.7);
    expect(level('2025-10-29T20:00+07:00')).toBeGreaterThan(4.9);
  });

  it('never overshoots a published peak between points (monotone interpolation)', () => {
    for (const name of REPLAY_NAMES) {
      const f = FLOOD_REPLAYS[name];
      for (const station of ['kim-long', 'phu-oc'] as const) {
        let max = -Infinity;
        for (let t = 0; t <= f.durationS; t += 600) max = Math.max(max, interpolate(f.levels[station], t));
        expect(max, `${name} ${station}`).toBeCloseTo(f.peaks[station].m, 6);
      }
    }
  });

  it('delivers each burst of rain in full at its gauge: 406 mm at Bạch Mã on 29 October 2025 between 07:00 and 15:00', () => {
    const f = replayOf('flood-2025')!;
    const from = at('flood-2025', '2025-10-29T07:00+07:00'), to = at('flood-2025', '2025-10-29T15:00+07:00');
    // every burst that overlaps those hours at Bạch Mã: the 406 mm one and the default 60 + 80 mm
    let mm = 0;
    for (let t = from; t < to; t += 300) mm += rainfall(byId('rg-bach-ma'), 'flood-2025', t, t + 300, p);
    expect(mm).toBeGreaterThan(406);
    expect(f.rain.find((b) => b.mm['rg-bach-ma'] === 406)).toBeDefined();
  });

  it('lasts as recorded, and refuses a replay whose points are out of order', () => {
    expect(scenarioEndS('flood-2025')).toBe(11 * 86_400);
    expect(() => defineFlood({ title: 'x', start: '2020-01-01T00:00+07:00', end: '2020-01-02T00:00+07:00', rain: [],
      levels: { 'kim-long': [{ t: '2020-01-01T06:00+07:00', m: 1, source: 's' }, { t: '2020-01-01T05:00+07:00', m: 2, source: 's' }], 'phu-oc': [{ t: '2020-01-01T00:00+07:00', m: 1, source: 's' }, { t: '2020-01-01T01:00+07:00', m: 1, source: 's' }] } }))
      .toThrow(/2020-01-01T05:00\+07:00 is not after/);
  });

  it('is a SIM_SCENARIO the platform accepts; an unknown one is refused naming the key', () => {
    expect(loadConfig({ SIM_SCENARIO: 'flood-2020' }).SIM_SCENARIO).toBe('flood-2020');
    expect(() => loadConfig({ SIM_SCENARIO: 'flood-1999' })).toThrow(/SIM_SCENARIO/);
  });
});
