import { afterEach, describe, expect, it } from 'vitest';
import { saturationHpa, dewPointC } from '../lib/psychrometry.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import type { SeriesPoint, StoredReading } from '../store/types.ts';
import { dryHistory } from '../firmware-sim/weather.ts';
import { deficitHpa, fireIndexFromStore, levelOfP, nesterovIndex, type FireScale } from './fire-danger.ts';
import { fireScaleOf } from './fire-tick.ts';
import { loadStandards } from './standards.ts';

const H = 3_600_000;
const D = 24 * H;
/** 2026-03-01 00:00 Vietnam time */
const DAY0 = Date.parse('2026-03-01T00:00:00+07:00');
const scale: FireScale = fireScaleOf(loadStandards());

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** hourly inputs for `days` days: 13:00 at t13/rh13, rain per day as given */
function hourly(days: Array<{ t13?: number; rh13?: number; rain?: number }>) {
  const temperature: SeriesPoint[] = [], humidity: SeriesPoint[] = [], rain: SeriesPoint[] = [];
  days.forEach((d, i) => {
    const at13 = DAY0 + i * D + 13 * H;
    if (d.t13 !== undefined) temperature.push({ ts: at13, value: d.t13 });
    if (d.rh13 !== undefined) humidity.push({ ts: at13, value: d.rh13 });
    if (d.rain) rain.push({ ts: DAY0 + i * D + 16 * H, value: d.rain });
  });
  return { temperature, humidity, dewPoint: [], rain };
}

describe('the Nesterov index', () => {
  it('computes the saturation deficit as the WMO tables give it', () => {
    expect(saturationHpa(20)).toBeCloseTo(23.37, 1); // WMO-No. 8: 23.4 hPa at 20 °C
    expect(saturationHpa(35)).toBeCloseTo(56.2, 0);
    expect(deficitHpa(35, { rh: 40 })).toBeCloseTo(0.6 * saturationHpa(35), 6);
    // from the dew point instead of humidity: the same air gives the same deficit
    expect(deficitHpa(35, { dewPoint: dewPointC(35, 40) })).toBeCloseTo(0.6 * saturationHpa(35), 3);
  });

  it('sums T13 × d13 day by day and maps P to the five national levels', () => {
    expect([1000, 1001, 2500, 2501, 5000, 5001, 10000, 10001].map((p) => levelOfP(p, scale))).toEqual([1, 2, 2, 3, 3, 4, 4, 5]);
    const term = 35 * deficitHpa(35, { rh: 40 })!; // ≈ 1,180 a day
    const index = nesterovIndex(hourly(Array.from({ length: 10 }, () => ({ t13: 35, rh13: 40 }))), DAY0, DAY0 + 9 * D + 14 * H, scale);
    expect(index.p).toBe(Math.round(10 * term));
    expect(index.level).toBe(5);
    expect(index.days.map((d) => levelOfP(d.p, scale))).toEqual([2, 2, 3, 3, 4, 4, 4, 4, 5, 5]);
  });

  it('starts again from 0 after a day with at least 5 mm of rain, and not after less', () => {
    const days = Array.from({ length: 8 }, (_, i) => ({ t13: 34, rh13: 45, rain: i === 4 ? 6 : i === 2 ? 4.9 : 0 }));
    const index = nesterovIndex(hourly(days), DAY0, DAY0 + 8 * D, scale);
    const term = Math.round(34 * deficitHpa(34, { rh: 45 })!);
    expect(index.days[4]).toMatchObject({ reset: true, p: 0, rainMm: 6 });
    expect(index.days[2]!.reset).toBe(false);
    expect(index.lastReset).toBe('2026-03-05');
    expect(index.p).toBeCloseTo(3 * term, -1);
  });

  it('adds nothing for a day without its 13:00 observation, and today only once 13:00 is over', () => {
    const days = [{ t13: 33, rh13: 50 }, {}, { t13: 33, rh13: 50 }];
    const term = 33 * deficitHpa(33, { rh: 50 })!;
    const before = nesterovIndex(hourly(days), DAY0, DAY0 + 2 * D + 13.5 * H, scale);
    expect(before.p).toBe(Math.round(term));
    expect(before.missingDays).toBe(1);
    expect(nesterovIndex(hourly(days), DAY0, DAY0 + 2 * D + 14 * H, scale).p).toBe(Math.round(2 * term));
  });

  it('reads the same P from the store after a restart, and a late rainy reading sets it back to 0', async () => {
    const file = `${process.env.TMPDIR ?? '/tmp'}/hw-fire-${process.pid}-${Date.now()}.duckdb`;
    const now = DAY0 + 23 * D + 10 * H;
    const rows: StoredReading[] = [];
    for (const day of dryHistory(now)) for (const r of day) for (const [metric, value] of Object.entries(r.m)) rows.push({ station: 'ws-a-luoi', metric: metric as StoredReading['metric'], ts: r.ts, value: value!, quality: 'ok', device: 'sim-ws-a-luoi' });
    let store = await openEmbeddedStore({ file, log: silentLogger() });
    await store.writeReadings(rows);
    const first = await fireIndexFromStore(store, 'ws-a-luoi', now, { ...scale, lookbackMs: 60 * D });
    // the simulated dry spell: reset 22 days ago, then climbing through every level to V
    expect(first.lastReset).toBe(new Date(now - 22 * D + 7 * H).toISOString().slice(0, 10));
    expect(first.level).toBe(5);
    expect(new Set(first.days.map((d) => levelOfP(d.p, scale)))).toEqual(new Set([1, 2, 3, 4, 5]));
    await store.close();
    store = await openEmbeddedStore({ file, log: silentLogger() });
    cleanup.push(() => store.close());
    expect(await fireIndexFromStore(store, 'ws-a-luoi', now, { ...scale, lookbackMs: 60 * D })).toEqual(first);
    // a gauge's store-and-forward flush: 8 mm fell yesterday afternoon after all
    await store.writeReadings([{ station: 'ws-a-luoi', metric: 'rainfall', ts: now - D + 6 * H, value: 8, quality: 'ok', device: 'sim-ws-a-luoi' }]);
    const after = await fireIndexFromStore(store, 'ws-a-luoi', now, { ...scale, lookbackMs: 60 * D });
    expect(after.days.at(-2)).toMatchObject({ reset: true, p: 0 });
    expect(after.level).toBe(1);
  });
});
