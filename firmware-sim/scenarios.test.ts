import { describe, expect, it } from 'vitest';
import { DEFAULT_STATIONS_FILE, loadStations, type Station } from '../platform/stations.ts';
import { isMetric, qualityOf } from '../contract/metrics.ts';
import { DEFAULT_SCENARIO, floodEndS, rainfall, resolveScenario, riverLevel, sample, scenarioName, type ScenarioParams } from './scenarios.ts';

const stations = loadStations(DEFAULT_STATIONS_FILE);
const station = (id: string): Station => {
  const s = stations.find((x) => x.id === id);
  if (!s) throw new Error(`no station ${id}`);
  return s;
};
const kimLong = station('kim-long');
const STEP_S = 60;

function series(s: Station, scenario: 'calm' | 'flood', untilS: number, p: ScenarioParams = DEFAULT_SCENARIO): number[] {
  const out: number[] = [];
  for (let t = 0; t <= untilS; t += STEP_S) out.push(riverLevel(s, scenario, t, p));
  return out;
}

/** Index of the first sample at or above `level`, or -1. */
const firstAbove = (xs: number[], level: number) => xs.findIndex((x) => x >= level);

function rainTotal(s: Station, scenario: 'calm' | 'flood', untilS: number, stepS = 300): number {
  let mm = 0;
  for (let t = stepS; t <= untilS; t += stepS) mm += rainfall(s, scenario, t - stepS, t);
  return mm;
}

describe('scenario names', () => {
  it('accepts calm, flood, the recorded floods and the dry season, and refuses anything else', () => {
    expect(scenarioName.options).toEqual(['calm', 'flood', 'flood-2017', 'flood-2020', 'flood-2025', 'dry-season']);
    expect(scenarioName.safeParse('drought').success).toBe(false);
  });
});

describe('the flood scenario at Kim Long', () => {
  const levels = series(kimLong, 'flood', floodEndS() + 3600);

  it('starts below alarm level 1 and crosses levels 1.0, 2.0 and 3.5 m in that order', () => {
    expect(levels[0]).toBeLessThan(1.0);
    const [l1, l2, l3] = [firstAbove(levels, 1.0), firstAbove(levels, 2.0), firstAbove(levels, 3.5)];
    expect(l1).toBeGreaterThan(0);
    expect(l2).toBeGreaterThan(l1);
    expect(l3).toBeGreaterThan(l2);
  });

  it('peaks between 3.5 and 4.0 m, near the 3.72 m observed on 2025-10-30', () => {
    const peak = Math.max(...levels);
    expect(peak).toBeGreaterThan(3.5);
    expect(peak).toBeLessThan(4.0);
    expect(Math.abs(peak - 3.72)).toBeLessThan(0.05);
  });

  it('recedes back below alarm level 1 after the peak and stays there', () => {
    const peakAt = levels.indexOf(Math.max(...levels));
    const back = levels.findIndex((x, i) => i > peakAt && x < 1.0);
    expect(back).toBeGreaterThan(peakAt);
    expect(Math.max(...levels.slice(back))).toBeLessThan(1.0);
  });

  it('passes within a few simulated hours by default', () => {
    expect(floodEndS()).toBeLessThanOrEqual(8 * 3600);
  });

  it('stretches when its durations are configured longer', () => {
    const slow = resolveScenario({ riseS: 12 * 3600, recessionS: 36 * 3600 });
    const fast = series(kimLong, 'flood', floodEndS(slow), DEFAULT_SCENARIO);
    const long = series(kimLong, 'flood', floodEndS(slow), slow);
    expect(firstAbove(long, 3.5)).toBeGreaterThan(firstAbove(fast, 3.5) * 4);
    expect(Math.max(...long)).toBeGreaterThan(3.5);
  });
});

describe('other river stations in the flood scenario', () => {
  it('scales Phú Ốc to its own alarm levels, crossing 1.5, 3.0 and 4.5 m in order', () => {
    const levels = series(station('phu-oc'), 'flood', floodEndS());
    const [l1, l2, l3] = [firstAbove(levels, 1.5), firstAbove(levels, 3.0), firstAbove(levels, 4.5)];
    expect(levels[0]).toBeLessThan(1.5);
    expect(l1).toBeGreaterThan(0);
    expect(l2).toBeGreaterThan(l1);
    expect(l3).toBeGreaterThan(l2);
    expect(Math.max(...levels)).toBeLessThan(5.18); // the 1999 record
  });

  it('rises past level 1 at Thượng Nhật, which only has a level 1', () => {
    const levels = series(station('thuong-nhat'), 'flood', floodEndS());
    expect(levels[0]).toBeLessThan(59.0);
    expect(Math.max(...levels)).toBeGreaterThan(59.0);
  });
});

describe('the calm scenario', () => {
  it('keeps every river station with alarm levels below its level 1 for three simulated days', () => {
    for (const s of stations.filter((x) => x.kind === 'river' && x.alarmLevels['1'] !== undefined)) {
      const levels = series(s, 'calm', 3 * 24 * 3600);
      expect(Math.max(...levels), s.id).toBeLessThan(s.alarmLevels['1']!);
      // the tide makes it move, it is not a flat line
      expect(Math.max(...levels) - Math.min(...levels), s.id).toBeGreaterThan(0.05);
    }
  });

  it('has little rain: under 30 mm in 24 simulated hours at every gauge', () => {
    for (const s of stations.filter((x) => x.kind === 'rain')) expect(rainTotal(s, 'calm', 24 * 3600), s.id).toBeLessThan(30);
  });
});

describe('rain in the flood scenario', () => {
  it('delivers about the observed 24 h total of 419 mm at Nam Đông', () => {
    const total = rainTotal(station('rg-nam-dong'), 'flood', floodEndS());
    expect(total).toBeGreaterThan(370);
    expect(total).toBeLessThan(470);
  });

  it('gives every gauge a flood total between 200 and 600 mm', () => {
    for (const s of stations.filter((x) => x.kind === 'rain')) {
      const total = rainTotal(s, 'flood', floodEndS());
      expect(total, s.id).toBeGreaterThan(200);
      expect(total, s.id).toBeLessThan(600);
    }
  });

  it('falls before the peak of the river, not after it', () => {
    const p = DEFAULT_SCENARIO;
    const peakS = p.floodStartS + p.riseS;
    const after = rainfall(station('rg-nam-dong'), 'flood', peakS, floodEndS());
    expect(after).toBeLessThan(10);
  });
});

describe('determinism', () => {
  it('gives the same readings for the same seed and different ones for another seed', () => {
    const a = resolveScenario({ seed: 7 });
    const b = resolveScenario({ seed: 8 });
    expect(series(kimLong, 'flood', 6 * 3600, a)).toEqual(series(kimLong, 'flood', 6 * 3600, a));
    expect(series(kimLong, 'flood', 6 * 3600, a)).not.toEqual(series(kimLong, 'flood', 6 * 3600, b));
  });
});

describe('one sample', () => {
  it('reports known metrics inside their physical ranges for every station kind', () => {
    for (const s of stations) {
      for (const scenario of ['calm', 'flood'] as const) {
        for (const t of [0, 3600, 2.5 * 3600, 5 * 3600]) {
          const values = sample(s, scenario, t, 60);
          expect(values.battery_v, s.id).toBeGreaterThan(11.5);
          expect(values.rssi, s.id).toBeLessThan(-50);
          for (const [name, value] of Object.entries(values)) {
            expect(isMetric(name), name).toBe(true);
            if (isMetric(name)) expect(qualityOf(name, value), `${s.id} ${name}=${value}`).toBe('ok');
          }
        }
      }
    }
  });

  it('reports water_level for river stations and rainfall for rain gauges', () => {
    expect(sample(kimLong, 'calm', 0, 60)).toHaveProperty('water_level');
    expect(sample(station('rg-hue'), 'calm', 0, 60)).toHaveProperty('rainfall');
  });
});

describe('the weather stations', () => {
  const aLuoi = station('ws-a-luoi');
  it('report temperature, humidity, dew point, wind and rain, humid in the rainy season and hot and dry in the dry season', () => {
    const afternoon = 13 * 3600; // 13:00 of the first simulated day
    const wet = sample(aLuoi, 'calm', afternoon, 300);
    const dry = sample(aLuoi, 'dry-season', afternoon, 300);
    expect(Object.keys(dry).sort()).toEqual(['battery_v', 'dew_point', 'humidity', 'rainfall', 'rssi', 'temperature', 'wind_direction', 'wind_speed']);
    expect(wet.humidity).toBeGreaterThan(75);
    expect(dry).toMatchObject({ rainfall: 0 });
    expect(dry.temperature).toBeGreaterThan(35);
    expect(dry.humidity).toBeLessThan(45);
    expect(dry.dew_point).toBeLessThan(dry.temperature!);
  });
});
