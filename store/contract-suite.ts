import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetricName } from '../contract/metrics.ts';
import type { Aggregate, SeriesPoint, StoredReading, TimeSeriesStore } from './types.ts';

/**
 * The contract every TimeSeriesStore adapter keeps (DESIGN.md "Storage": one adapter interface, one
 * contract suite run against every adapter). It uses only the TimeSeriesStore interface, so the
 * InfluxDB adapter runs it unchanged. `makeStore` returns an empty store each time; the suite
 * closes it after each test. Reads must see a write once `writeReadings` has resolved.
 */
export function describeTimeSeriesStoreContract(
  name: string,
  makeStore: () => Promise<TimeSeriesStore & { close(): Promise<void> }>,
): void {
  describe(`${name} keeps the TimeSeriesStore contract`, () => {
    let store: TimeSeriesStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    /** 2024-10-01T00:00:00Z: a whole number of minutes, hours and days from the epoch */
    const T0 = Date.UTC(2024, 9, 1);
    const MIN = 60_000;
    const HOUR = 3_600_000;
    const DAY = 86_400_000;

    const reading = (station: string, metric: MetricName, ts: number, value: number, extra: Partial<StoredReading> = {}): StoredReading =>
      ({ station, device: `${station}-dev`, metric, ts, value, quality: 'ok', ...extra });

    it('writes readings and reads them back as raw points in time order', async () => {
      await store.writeReadings([
        reading('kim-long', 'water_level', T0 + 2000, 2.5, { seq: 3 }),
        reading('kim-long', 'water_level', T0, 2.31, { seq: 1 }),
        reading('kim-long', 'water_level', T0 + 1000, 2.4, { seq: 2 }),
        reading('kim-long', 'rainfall', T0, 12),
      ]);
      const points = await store.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + MIN });
      expect(points).toEqual([{ ts: T0, value: 2.31 }, { ts: T0 + 1000, value: 2.4 }, { ts: T0 + 2000, value: 2.5 }]);
      expect(await store.count()).toBe(4);
      expect(await store.count({ metric: 'rainfall' })).toBe(1);
    });

    it('rewriting the same reading keeps one row and the last value written', async () => {
      await store.writeReadings([reading('phu-oc', 'water_level', T0, 1.0)]);
      await store.writeReadings([reading('phu-oc', 'water_level', T0, 1.0)]);
      expect(await store.count()).toBe(1);
      await store.writeReadings([reading('phu-oc', 'water_level', T0, 1.2)]);
      expect(await store.count()).toBe(1);
      expect(await store.series({ station: 'phu-oc', metric: 'water_level', from: T0, to: T0 + 1 })).toEqual([{ ts: T0, value: 1.2 }]);
    });

    it('a batch that repeats a reading keeps one row with the later value', async () => {
      await store.writeReadings([reading('phu-oc', 'water_level', T0, 1.0), reading('phu-oc', 'water_level', T0, 1.5)]);
      expect(await store.count()).toBe(1);
      expect(await store.series({ station: 'phu-oc', metric: 'water_level', from: T0, to: T0 + 1 })).toEqual([{ ts: T0, value: 1.5 }]);
    });

    describe('aggregates into buckets aligned to the Unix epoch', () => {
      // written out of time order so `last` must follow ts, not arrival; the bucket at T0+2min has no data
      const rows = [
        reading('kim-long', 'water_level', T0 + 50_000, 2),
        reading('kim-long', 'water_level', T0, 1),
        reading('kim-long', 'water_level', T0 + 10_000, 4),
        reading('kim-long', 'water_level', T0 + MIN, 10),
        reading('kim-long', 'water_level', T0 + 3 * MIN + 30_000, 3),
        reading('kim-long', 'water_level', T0 + 3 * MIN + 5_000, 7),
      ];
      const expected: Record<Aggregate, number[]> = {
        mean: [7 / 3, 10, 5],
        min: [1, 10, 3],
        max: [4, 10, 7],
        last: [2, 10, 3],
        sum: [7, 10, 10],
      };
      for (const fn of Object.keys(expected) as Aggregate[]) {
        it(`computes ${fn} per one-minute bucket and omits the empty bucket`, async () => {
          await store.writeReadings(rows);
          const points = await store.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 10 * MIN, every: MIN, fn });
          expectPoints(points, [T0, T0 + MIN, T0 + 3 * MIN], expected[fn]);
        });
      }

      it('uses mean when no fn is given', async () => {
        await store.writeReadings(rows);
        const points = await store.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 10 * MIN, every: MIN });
        expectPoints(points, [T0, T0 + MIN, T0 + 3 * MIN], expected.mean);
      });

      it('labels a bucket that starts before `from` with its aligned start and counts only points in range', async () => {
        await store.writeReadings(rows);
        const points = await store.series({ station: 'kim-long', metric: 'water_level', from: T0 + 5_000, to: T0 + 2 * MIN, every: MIN, fn: 'sum' });
        expectPoints(points, [T0, T0 + MIN], [6, 10]);
      });
    });

    it('treats `from` as inclusive and `to` as exclusive', async () => {
      await store.writeReadings([1000, 2000, 3000].map((d, i) => reading('a-luoi', 'rainfall', T0 + d, i + 1)));
      const raw = await store.series({ station: 'a-luoi', metric: 'rainfall', from: T0 + 1000, to: T0 + 3000 });
      expect(raw).toEqual([{ ts: T0 + 1000, value: 1 }, { ts: T0 + 2000, value: 2 }]);
      const hourly = await store.series({ station: 'a-luoi', metric: 'rainfall', from: T0 + 1000, to: T0 + 3000, every: HOUR, fn: 'sum' });
      expect(hourly).toEqual([{ ts: T0, value: 3 }]);
    });

    it('returns an empty list for a range, station or metric with no data', async () => {
      await store.writeReadings([reading('a-luoi', 'rainfall', T0, 5)]);
      expect(await store.series({ station: 'a-luoi', metric: 'rainfall', from: T0 + 1, to: T0 + DAY })).toEqual([]);
      expect(await store.series({ station: 'a-luoi', metric: 'rainfall', from: T0 + 1, to: T0 + DAY, every: HOUR, fn: 'max' })).toEqual([]);
      expect(await store.series({ station: 'a-luoi', metric: 'rainfall', from: T0, to: T0 })).toEqual([]);
      expect(await store.series({ station: 'nowhere', metric: 'rainfall', from: T0 - DAY, to: T0 + DAY })).toEqual([]);
      expect(await store.series({ station: 'a-luoi', metric: 'water_level', from: T0 - DAY, to: T0 + DAY })).toEqual([]);
      expect(await store.latest('nowhere')).toEqual([]);
    });

    it('reports the latest value of each metric of a station with its time, quality and device', async () => {
      await store.writeReadings([
        reading('ta-trach', 'reservoir_level', T0, 40.1),
        reading('ta-trach', 'reservoir_level', T0 + 2 * MIN, 40.3, { device: 'plc-2' }),
        reading('ta-trach', 'reservoir_level', T0 + MIN, 40.2),
        reading('ta-trach', 'inflow', T0 + 5 * MIN, 60_000, { quality: 'out_of_range' }),
        reading('ta-trach', 'inflow', T0, 850),
        reading('ta-trach', 'battery_v', T0 + MIN, 12.6),
        reading('huong-dien', 'reservoir_level', T0 + HOUR, 55),
      ]);
      const latest = [...(await store.latest('ta-trach'))].sort((a, b) => a.metric.localeCompare(b.metric));
      expect(latest).toEqual([
        { metric: 'battery_v', value: 12.6, ts: T0 + MIN, quality: 'ok', device: 'ta-trach-dev' },
        { metric: 'inflow', value: 60_000, ts: T0 + 5 * MIN, quality: 'out_of_range', device: 'ta-trach-dev' },
        { metric: 'reservoir_level', value: 40.3, ts: T0 + 2 * MIN, quality: 'ok', device: 'plc-2' },
      ]);
    });

    it('keeps 50 stations of 100 readings each apart from one another', async () => {
      const rows: StoredReading[] = [];
      for (let s = 0; s < 50; s++) {
        for (let i = 0; i < 100; i++) rows.push(reading(`st-${s}`, 'water_level', T0 + i * MIN, s * 1000 + i));
      }
      await store.writeReadings(rows);
      expect(await store.count()).toBe(5000);
      for (const s of [0, 17, 49]) {
        expect(await store.count({ station: `st-${s}` })).toBe(100);
        const points = await store.series({ station: `st-${s}`, metric: 'water_level', from: T0, to: T0 + DAY });
        expect(points.map((p) => p.value)).toEqual(Array.from({ length: 100 }, (_, i) => s * 1000 + i));
        expect(await store.latest(`st-${s}`)).toEqual([
          { metric: 'water_level', value: s * 1000 + 99, ts: T0 + 99 * MIN, quality: 'ok', device: `st-${s}-dev` },
        ]);
        const total = await store.series({ station: `st-${s}`, metric: 'water_level', from: T0, to: T0 + DAY, every: DAY, fn: 'sum' });
        expect(total).toEqual([{ ts: T0, value: 100 * s * 1000 + 4950 }]);
      }
    });

    it('aligns hourly and daily buckets to UTC, not to local midnight in Asia/Ho_Chi_Minh (UTC+7)', async () => {
      const localMidnight = Date.parse('2024-10-02T00:00:00+07:00');
      expect(localMidnight).toBe(Date.UTC(2024, 9, 1, 17));
      const utcMidnight = Date.parse('2024-10-02T00:00:00Z'); // 07:00 in Huế
      await store.writeReadings([
        reading('kim-long', 'rainfall', localMidnight - 1, 1), // 16:59:59.999Z
        reading('kim-long', 'rainfall', localMidnight, 2), // 17:00:00.000Z
        reading('kim-long', 'rainfall', localMidnight + 1, 4),
        reading('kim-long', 'rainfall', utcMidnight - 1, 8), // 23:59:59.999Z
        reading('kim-long', 'rainfall', utcMidnight, 16),
        reading('kim-long', 'rainfall', utcMidnight + HOUR - 1, 32),
      ]);
      const q = { station: 'kim-long', metric: 'rainfall' as const, from: Date.UTC(2024, 8, 30), to: Date.UTC(2024, 9, 3), fn: 'sum' as const };
      const hourly = await store.series({ ...q, every: HOUR });
      expect(hourly).toEqual([
        { ts: Date.parse('2024-10-01T16:00:00Z'), value: 1 },
        { ts: Date.parse('2024-10-01T17:00:00Z'), value: 6 },
        { ts: Date.parse('2024-10-01T23:00:00Z'), value: 8 },
        { ts: Date.parse('2024-10-02T00:00:00Z'), value: 48 },
      ]);
      const daily = await store.series({ ...q, every: DAY });
      expect(daily).toEqual([
        { ts: Date.parse('2024-10-01T00:00:00Z'), value: 15 },
        { ts: Date.parse('2024-10-02T00:00:00Z'), value: 48 },
      ]);
    });

    describe('downsampling and retention', () => {
      const KEEP_ALL = { rawMs: 3650 * DAY, hourlyMs: 3650 * DAY, dailyMs: 3650 * DAY };
      // three days of a reading every 20 minutes, values that make every aggregate distinct
      const rows = Array.from({ length: 3 * 72 }, (_, i) => reading('kim-long', 'water_level', T0 + i * 20 * MIN + 7_000, (i * 37) % 101 / 10));
      const q = { station: 'kim-long', metric: 'water_level' as const, from: T0, to: T0 + 3 * DAY };

      for (const fn of ['mean', 'min', 'max', 'last', 'sum'] as const) {
        it(`answers ${fn} from the hourly and daily aggregates as it does from the raw readings`, async () => {
          await store.writeReadings(rows);
          await store.downsample(T0 + 3 * DAY, KEEP_ALL);
          for (const every of [HOUR, 6 * HOUR, DAY]) {
            const raw = await store.series({ ...q, every, fn });
            expect(raw.length).toBeGreaterThan(0);
            expectPoints(await store.series({ ...q, every, fn, resolution: '1h' }), raw.map((p) => p.ts), raw.map((p) => p.value));
            if (every % DAY === 0) expectPoints(await store.series({ ...q, every, fn, resolution: '1d' }), raw.map((p) => p.ts), raw.map((p) => p.value));
          }
        });
      }

      it('folds a reading written after a run into its buckets on the next run', async () => {
        await store.writeReadings(rows);
        await store.downsample(T0 + 3 * DAY, KEEP_ALL);
        await store.writeReadings([reading('kim-long', 'water_level', T0 + 30 * MIN, 99)]);
        await store.downsample(T0 + 3 * DAY, KEEP_ALL);
        expect(await store.series({ ...q, to: T0 + HOUR, every: HOUR, fn: 'max', resolution: '1h' })).toEqual([{ ts: T0, value: 99 }]);
        expect(await store.series({ ...q, to: T0 + DAY, every: DAY, fn: 'max', resolution: '1d' })).toEqual([{ ts: T0, value: 99 }]);
      });

      it('deletes raw readings and aggregates past their retention, on whole days, and keeps the rest', async () => {
        await store.writeReadings(rows);
        const now = T0 + 3 * DAY + HOUR;
        // raw kept 1 day (from T0+2d), hourly 2 days (from T0+1d), daily for good
        await store.downsample(now, { rawMs: DAY, hourlyMs: 2 * DAY, dailyMs: 3650 * DAY });
        expect(await store.count()).toBe(72);
        expect((await store.series({ ...q, to: T0 + 2 * DAY })).length).toBe(0);
        const hourly = await store.series({ ...q, every: DAY, fn: 'sum', resolution: '1h' });
        expect(hourly.map((p) => p.ts)).toEqual([T0 + DAY, T0 + 2 * DAY]);
        const daily = await store.series({ ...q, every: DAY, fn: 'sum', resolution: '1d' });
        expect(daily.map((p) => p.ts)).toEqual([T0, T0 + DAY, T0 + 2 * DAY]);
      });

      it('refuses an aggregate resolution without an every that is a multiple of it', async () => {
        await expect(store.series({ ...q, resolution: '1h' })).rejects.toMatchObject({ code: 'HW_ERR_BAD_REQUEST' });
        await expect(store.series({ ...q, every: 30 * MIN, resolution: '1h' })).rejects.toMatchObject({ code: 'HW_ERR_BAD_REQUEST' });
      });
    });
  });
}

function expectPoints(points: SeriesPoint[], ts: number[], values: number[]): void {
  expect(points.map((p) => p.ts)).toEqual(ts);
  expect(points).toHaveLength(values.length);
  points.forEach((p, i) => expect(p.value).toBeCloseTo(values[i] ?? Number.NaN, 9));
}
