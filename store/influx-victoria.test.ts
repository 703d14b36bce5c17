import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { openInfluxStore } from './influx.ts';
import { startVictoria, type RunningServer } from './test-servers.ts';
import type { StoredReading } from './types.ts';

/**
 * VictoriaMetrics 1.79 takes the client's `/api/v2/write` unchanged, so it checks the write path
 * against a second, independent line-protocol parser. Writes only: VictoriaMetrics does not speak
 * InfluxQL; we read what arrived through `/api/v1/export`. It names a series
 * `<measurement>_<field>`, keeps tags as labels, ignores org and bucket, and stores string fields
 * as 0 (quality and device arrive as 0: FACTS.md).
 */
const log = silentLogger();
const T0 = Date.UTC(2024, 9, 1);
let vm: RunningServer;

beforeAll(async () => {
  vm = await startVictoria();
});
afterAll(async () => {
  await vm?.stop();
});

interface Exported {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

async function exportSeries(match: string): Promise<Exported[]> {
  // make what was just ingested searchable now instead of after the next background flush
  await fetch(`${vm.url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) });
  const q = new URLSearchParams({ 'match[]': match, start: String((T0 - 86_400_000) / 1000), end: String((T0 + 86_400_000) / 1000) });
  const text = await (await fetch(`${vm.url}/api/v1/export?${q}`, { signal: AbortSignal.timeout(10_000) })).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Exported)
    .sort((a, b) => (a.metric.__name__ ?? '').localeCompare(b.metric.__name__ ?? '') || (a.metric.station ?? '').localeCompare(b.metric.station ?? ''));
}

const reading = (station: string, metric: StoredReading['metric'], ts: number, value: number, extra: Partial<StoredReading> = {}): StoredReading =>
  ({ station, device: `${station}-dev`, metric, ts, value, quality: 'ok', ...extra });

describe('the InfluxDB adapter writing to VictoriaMetrics 1.79', () => {
  it('delivers each reading as <domain>_<metric> with the station label and its ms timestamp', async () => {
    const store = await openInfluxStore({ url: vm.url, org: 'huewatch', bucket: 'ignored', log });
    await store.writeReadings([
      reading('kim-long', 'water_level', T0 + 1, 2.31, { seq: 41 }),
      reading('kim-long', 'water_level', T0 + 60_001, 2.4, { seq: 42 }),
      reading('kim-long', 'rainfall', T0 + 1, 12.5),
      reading('ta-trach', 'inflow', T0 + 999, 850),
      reading('ta-trach', 'reservoir_level', T0 + 999, 40.1),
    ]);
    await store.close();
    const got = await exportSeries('{__name__=~"(hydro|rain|reservoir)_.*"}');
    expect(got.map((s) => [s.metric, s.values, s.timestamps])).toEqual([
      [{ __name__: 'hydro_water_level', station: 'kim-long' }, [2.31, 2.4], [T0 + 1, T0 + 60_001]],
      [{ __name__: 'hydro_water_level_device', station: 'kim-long' }, [0, 0], [T0 + 1, T0 + 60_001]],
      [{ __name__: 'hydro_water_level_quality', station: 'kim-long' }, [0, 0], [T0 + 1, T0 + 60_001]],
      [{ __name__: 'hydro_water_level_seq', station: 'kim-long' }, [41, 42], [T0 + 1, T0 + 60_001]],
      [{ __name__: 'rain_rainfall', station: 'kim-long' }, [12.5], [T0 + 1]],
      [{ __name__: 'rain_rainfall_device', station: 'kim-long' }, [0], [T0 + 1]],
      [{ __name__: 'rain_rainfall_quality', station: 'kim-long' }, [0], [T0 + 1]],
      [{ __name__: 'reservoir_inflow', station: 'ta-trach' }, [850], [T0 + 999]],
      [{ __name__: 'reservoir_inflow_device', station: 'ta-trach' }, [0], [T0 + 999]],
      [{ __name__: 'reservoir_inflow_quality', station: 'ta-trach' }, [0], [T0 + 999]],
      [{ __name__: 'reservoir_reservoir_level', station: 'ta-trach' }, [40.1], [T0 + 999]],
      [{ __name__: 'reservoir_reservoir_level_device', station: 'ta-trach' }, [0], [T0 + 999]],
      [{ __name__: 'reservoir_reservoir_level_quality', station: 'ta-trach' }, [0], [T0 + 999]],
    ]);
  });

  it('delivers a station id with commas, equals signs, spaces and quotes as the exact label value', async () => {
    const store = await openInfluxStore({ url: vm.url, org: 'huewatch', bucket: 'ignored', log });
    const station = 'bến "đò", a=b c';
    await store.writeReadings([reading(station, 'pm25', T0, 35.5)]);
    await store.close();
    const got = await exportSeries('{__name__="air_pm25"}');
    expect(got.map((s) => [s.metric, s.values, s.timestamps])).toEqual([[{ __name__: 'air_pm25', station }, [35.5], [T0]]]);
  });

  it('delivers 20,000 readings from concurrent callers, every one of them', async () => {
    const store = await openInfluxStore({ url: vm.url, org: 'huewatch', bucket: 'ignored', log });
    await Promise.all(Array.from({ length: 40 }, (_, s) =>
      store.writeReadings(Array.from({ length: 500 }, (_, i) => reading(`bulk-${s}`, 'battery_v', T0 + i * 1000, 12 + i / 1000)))));
    await store.close();
    const got = await exportSeries('{__name__="device_battery_v"}');
    expect(got).toHaveLength(40);
    expect(got.reduce((n, s) => n + s.values.length, 0)).toBe(20_000);
    expect(got.find((s) => s.metric.station === 'bulk-7')?.timestamps.at(-1)).toBe(T0 + 499_000);
  });
});
