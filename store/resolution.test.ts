import { describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore } from './duckdb.ts';
import { chooseResolution, withAutoResolution } from './resolution.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

describe('the resolution a range query reads', () => {
  it('reads raw for spans up to a week, hourly aggregates up to a year and daily ones beyond', () => {
    expect(chooseResolution({ from: T0, to: T0 + 7 * DAY, every: HOUR })).toBe('raw');
    expect(chooseResolution({ from: T0, to: T0 + 30 * DAY })).toBe('raw');
    expect(chooseResolution({ from: T0, to: T0 + 30 * DAY, every: 6 * HOUR })).toBe('1h');
    expect(chooseResolution({ from: T0, to: T0 + 30 * DAY, every: 30 * 60_000 })).toBe('raw');
    expect(chooseResolution({ from: T0, to: T0 + 400 * DAY, every: DAY })).toBe('1d');
    expect(chooseResolution({ from: T0, to: T0 + 400 * DAY, every: 12 * HOUR })).toBe('1h');
  });

  it('answers a month-long hourly query from the aggregates after the raw readings expired', async () => {
    const embedded = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    const store = withAutoResolution(embedded);
    await store.writeReadings(Array.from({ length: 48 }, (_, i) => (
      { station: 'kim-long', device: 'kl', metric: 'water_level' as const, ts: T0 + i * HOUR, value: i, quality: 'ok' as const })));
    await store.downsample(T0 + 30 * DAY, { rawMs: DAY, hourlyMs: 365 * DAY, dailyMs: 3650 * DAY });
    expect(await store.count()).toBe(0);
    const q = { station: 'kim-long', metric: 'water_level' as const, from: T0, to: T0 + 30 * DAY, every: DAY, fn: 'sum' as const };
    expect(await store.series(q)).toEqual([{ ts: T0, value: 276 }, { ts: T0 + DAY, value: 852 }]);
    expect(await store.series({ ...q, resolution: 'raw' })).toEqual([]);
    await store.close();
  });
});
