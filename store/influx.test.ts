import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { describeTimeSeriesStoreContract } from './contract-suite.ts';
import { Registry } from 'prom-client';
import { InfluxErrorCode, InfluxStoreError, openInfluxStore, toLines, type InfluxStoreOptions } from './influx.ts';
import { StoreErrorCode } from './serial-queue.ts';
import {
  createInflux2Bucket, freePort, influxql, startInfluxd, startV2WriteShim, type RunningServer, type WriteShim,
} from './test-servers.ts';
import type { StoredReading, TimeSeriesStore } from './types.ts';

const log = silentLogger();
const T0 = Date.UTC(2024, 9, 1);
let influxd: RunningServer;
/** TEST ADAPTER: influxd 1.6.7 has no /api/v2/write; the shim maps the client's writes to /write */
let shim: WriteShim;
let dbs = 0;

beforeAll(async () => {
  influxd = await startInfluxd();
  shim = await startV2WriteShim(influxd.url);
});
afterAll(async () => {
  await shim?.stop();
  await influxd?.stop();
});

/** A fresh, empty database per store; writes go through the shim, queries straight to /query. */
async function freshStore(over: Partial<InfluxStoreOptions> = {}) {
  const db = `hw_${++dbs}`;
  await influxql(influxd.url, `CREATE DATABASE "${db}"`);
  const store = await openInfluxStore({ url: shim.url, org: 'huewatch', bucket: db, log, ...over });
  return { store, db };
}

const reading = (station: string, metric: StoredReading['metric'], ts: number, value: number, extra: Partial<StoredReading> = {}): StoredReading =>
  ({ station, device: `${station}-dev`, metric, ts, value, quality: 'ok', ...extra });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(() => undefined, (err: { code?: string }) => err.code ?? String(err));
}

describeTimeSeriesStoreContract('influx adapter on InfluxDB 1.6.7', async () => (await freshStore()).store);

describe('the InfluxDB adapter on InfluxDB 1.6.7', () => {
  it('stores a reading under its domain with station as the only tag and metric-named fields at ms precision', async () => {
    const { store, db } = await freshStore();
    await store.writeReadings([
      reading('kim-long', 'water_level', T0 + 123, 2.31, { seq: 7, device: 'kl-1' }),
      reading('kim-long', 'rainfall', T0 + 123, 12, { seq: 7, device: 'kl-1' }),
    ]);
    await store.close();
    const tags = await influxql(influxd.url, 'SHOW TAG KEYS', { db });
    expect(tags.results?.[0]?.series?.map((s) => [s.name, s.values.flat()])).toEqual([['hydro', ['station']], ['rain', ['station']]]);
    const fields = await influxql(influxd.url, 'SHOW FIELD KEYS FROM "hydro"', { db });
    expect(fields.results?.[0]?.series?.[0]?.values).toEqual([
      ['water_level', 'float'], ['water_level_device', 'string'], ['water_level_quality', 'string'], ['water_level_seq', 'integer'],
    ]);
    const rows = await influxql(influxd.url, 'SELECT * FROM "hydro" GROUP BY *', { db });
    expect(rows.results?.[0]?.series).toEqual([{
      name: 'hydro', tags: { station: 'kim-long' },
      columns: ['time', 'water_level', 'water_level_device', 'water_level_quality', 'water_level_seq'],
      values: [[T0 + 123, 2.31, 'kl-1', 'ok', 7]],
    }]);
  });

  it('lists what devices sent with a seq since a time (the duplicate check of ingest warms from it), at most a limit per metric, newest first', async () => {
    const { store } = await freshStore();
    await store.writeReadings([
      reading('kim-long', 'water_level', T0, 2.0, { seq: 1, device: 'kl-1' }),
      reading('kim-long', 'water_level', T0 + 60_000, 2.1, { seq: 2, device: 'kl-1' }),
      reading('kim-long', 'battery_v', T0 + 60_000, 12.5, { seq: 2, device: 'kl-1' }),
      reading('rg-hue', 'rainfall', T0 + 60_000, 30, { seq: 9, device: 'rg-1' }),
      reading('rg-hue', 'rainfall', T0 + 120_000, 5), // no seq: not listed
    ]);
    const since = await store.sequencedSince(T0 + 1);
    expect(since.sort((a, b) => a.device.localeCompare(b.device) || a.metric.localeCompare(b.metric))).toEqual([
      { device: 'kl-1', seq: 2, ts: T0 + 60_000, metric: 'battery_v', value: 12.5 },
      { device: 'kl-1', seq: 2, ts: T0 + 60_000, metric: 'water_level', value: 2.1 },
      { device: 'rg-1', seq: 9, ts: T0 + 60_000, metric: 'rainfall', value: 30 },
    ]);
    const newest = await store.sequencedSince(T0, 1);
    expect(newest.filter((r) => r.metric === 'water_level')).toEqual([{ device: 'kl-1', seq: 2, ts: T0 + 60_000, metric: 'water_level', value: 2.1 }]);
    await store.close();
  });

  it('keeps the quality and device of each metric when metrics of one domain share a point', async () => {
    const { store } = await freshStore();
    await store.writeReadings([
      reading('ta-trach', 'reservoir_level', T0, 40.1, { device: 'plc-level' }),
      reading('ta-trach', 'inflow', T0, 60_000, { device: 'plc-flow', quality: 'out_of_range' }),
    ]);
    expect(await store.count()).toBe(2);
    expect([...(await store.latest('ta-trach'))].sort((a, b) => a.metric.localeCompare(b.metric))).toEqual([
      { metric: 'inflow', value: 60_000, ts: T0, quality: 'out_of_range', device: 'plc-flow' },
      { metric: 'reservoir_level', value: 40.1, ts: T0, quality: 'ok', device: 'plc-level' },
    ]);
    await store.close();
  });

  it('rewrites a point in place when its device, quality or seq change, since the tag set stays the station', async () => {
    const { store } = await freshStore();
    await store.writeReadings([reading('phu-oc', 'water_level', T0, 1.0, { device: 'old', seq: 1 })]);
    await store.writeReadings([reading('phu-oc', 'water_level', T0, 1.0, { device: 'new', seq: 2, quality: 'out_of_range' })]);
    expect(await store.count()).toBe(1);
    expect(await store.latest('phu-oc')).toEqual([{ metric: 'water_level', value: 1.0, ts: T0, quality: 'out_of_range', device: 'new' }]);
    await store.close();
  });

  it('batches concurrent writes of many callers into few requests and resolves each once stored', async () => {
    const { store } = await freshStore();
    const before = shim.writes;
    await Promise.all(Array.from({ length: 200 }, (_, c) =>
      store.writeReadings(Array.from({ length: 5 }, (_, i) => reading(`st-${c}`, 'water_level', T0 + i * 60_000, c + i)))));
    expect(shim.writes - before).toBeLessThan(10);
    expect(await store.count()).toBe(1000);
    await store.close();
  });

  it('escapes quotes, backslashes, commas, equals signs and spaces of station ids in writes and InfluxQL', async () => {
    const { store } = await freshStore();
    const station = `it's "q" \\ a,b=c d' OR '1'='1`;
    await store.writeReadings([reading(station, 'rainfall', T0, 5), reading('other', 'rainfall', T0, 7)]);
    expect(await store.series({ station, metric: 'rainfall', from: T0, to: T0 + 1 })).toEqual([{ ts: T0, value: 5 }]);
    expect(await store.count({ station })).toBe(1);
    expect(await store.latest(station)).toEqual([{ metric: 'rainfall', value: 5, ts: T0, quality: 'ok', device: `${station}-dev` }]);
    await store.close();
  });

  it('refuses readings it cannot store exactly before sending anything', async () => {
    const { store } = await freshStore();
    const before = shim.writes;
    const ok = reading('a-luoi', 'rainfall', T0, 1);
    expect(await codeOf(store.writeReadings([ok, { ...ok, station: '' }]))).toBe(StoreErrorCode.BAD_REQUEST);
    expect(await codeOf(store.writeReadings([ok, { ...ok, station: 'ends-in\\' }]))).toBe(StoreErrorCode.BAD_REQUEST);
    expect(await codeOf(store.writeReadings([ok, { ...ok, ts: T0 + 0.5 }]))).toBe(StoreErrorCode.BAD_REQUEST);
    expect(await codeOf(store.writeReadings([ok, { ...ok, metric: 'tide' as StoredReading['metric'] }]))).toBe(StoreErrorCode.BAD_REQUEST);
    expect(await codeOf(store.series({ station: 'a-luoi', metric: 'rainfall', from: T0, to: T0 + 1, every: 0 }))).toBe(StoreErrorCode.BAD_REQUEST);
    expect(shim.writes).toBe(before);
    expect(await store.count()).toBe(0);
    await store.close();
  });

  it('never emits a NaN/Infinity field: drops that reading alone, counts it, and writes the rest of the batch', async () => {
    const metrics = new Registry();
    const { store } = await freshStore({ metrics });
    const ok = (ts: number, metric: StoredReading['metric'] = 'reservoir_level') => reading('ta-trach', metric, T0 + ts, 43.5 + ts, { device: 'plc-ta-trach', seq: ts });
    // one Modbus poll: good registers beside a NaN and an Infinity of the same point
    await store.writeReadings([ok(0), { ...ok(0, 'inflow'), value: Number.NaN }, { ...ok(0, 'outflow'), value: Number.POSITIVE_INFINITY }, ok(0, 'spillway'), ok(1)]);
    expect(await store.count({ station: 'ta-trach' })).toBe(3);
    expect((await store.latest('ta-trach')).map((l) => l.metric)).toEqual(['reservoir_level', 'spillway']);
    expect(await metrics.metrics()).toContain('huewatch_store_non_finite_dropped_total{store="influx"} 2');
    expect(toLines([{ ...ok(2), value: Number.NEGATIVE_INFINITY }], () => undefined)).toEqual([]);
    await store.writeReadings([{ ...ok(3), value: Number.NaN }]); // nothing left to send: resolves, sends nothing
    expect(await store.count({ station: 'ta-trach' })).toBe(3);
    await store.close();
  });

  it('takes a missing database (404) as an outage: HW_ERR_STORE_UNAVAILABLE, not a refusal, without retrying inside the call', async () => {
    const store = await openInfluxStore({ url: shim.url, org: 'huewatch', bucket: `never_created_${++dbs}`, log, writeOptions: { minRetryDelay: 10 } });
    const before = shim.writes;
    const err = await store.writeReadings([reading('kim-long', 'water_level', T0, 2)]).then(() => undefined, (e: unknown) => e as InfluxStoreError);
    expect(err).toMatchObject({ code: InfluxErrorCode.UNAVAILABLE, status: 404, outage: true });
    expect(shim.writes - before).toBe(1);
    for (const status of [401, 403]) {
      shim.failWrites(1, status);
      expect(await store.writeReadings([reading('kim-long', 'water_level', T0, 2)]).catch((e: unknown) => e)).toMatchObject({ code: InfluxErrorCode.UNAVAILABLE, status, outage: true });
    }
    await store.close();
  });

  it('retries a batch the server answers with 503 and resolves once a retry is accepted', async () => {
    const { store } = await freshStore({ writeOptions: { minRetryDelay: 10, maxRetryDelay: 20, retryJitter: 5 } });
    const before = shim.writes;
    shim.failWrites(2, 503);
    await store.writeReadings([reading('kim-long', 'water_level', T0, 2)]);
    expect(shim.writes - before).toBe(3);
    expect(await store.count()).toBe(1);
    await store.close();
  });

  it('gives up after maxRetries with HW_ERR_STORE_UNAVAILABLE so the caller can spool', async () => {
    const { store } = await freshStore({ writeOptions: { maxRetries: 2, minRetryDelay: 10, maxRetryDelay: 20, retryJitter: 5 } });
    const before = shim.writes;
    shim.failWrites(3, 503);
    expect(await codeOf(store.writeReadings([reading('kim-long', 'water_level', T0, 2)]))).toBe(InfluxErrorCode.UNAVAILABLE);
    expect(shim.writes - before).toBe(3);
    expect(await store.count()).toBe(0);
    await store.close();
  });

  it('rejects a batch the server refuses with HW_ERR_STORE_REJECTED and does not retry it', async () => {
    const { store, db } = await freshStore({ writeOptions: { minRetryDelay: 10 } });
    // a string already stored in the float field: InfluxDB answers 400 "field type conflict"
    const res = await fetch(`${influxd.url}/write?db=${db}&precision=ms`, { method: 'POST', body: `hydro,station=x water_level="high" ${T0}` });
    expect(res.status).toBe(204);
    const before = shim.writes;
    expect(await codeOf(store.writeReadings([reading('x', 'water_level', T0 + 1, 2)]))).toBe(InfluxErrorCode.REJECTED);
    expect(shim.writes - before).toBe(1);
    await store.close();
  });

  it('reports HW_ERR_STORE_UNAVAILABLE for writes and reads when nothing listens at the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const store = await openInfluxStore({ url, org: 'o', bucket: 'b', log, writeOptions: { maxRetries: 1, minRetryDelay: 10, retryJitter: 0 } });
    expect(await codeOf(store.writeReadings([reading('kim-long', 'water_level', T0, 2)]))).toBe(InfluxErrorCode.UNAVAILABLE);
    expect(await codeOf(store.count())).toBe(InfluxErrorCode.UNAVAILABLE);
    await store.close();
  });

  it('refuses a write with HW_ERR_STORE_BUSY while maxBufferLines lines already wait', async () => {
    const { store } = await freshStore({ writeOptions: { maxBufferLines: 10 } });
    const batch = (s: string) => Array.from({ length: 10 }, (_, i) => reading(s, 'rainfall', T0 + i, i));
    const first = store.writeReadings(batch('a')); // taken at once into the batch in flight
    const second = store.writeReadings(batch('b')); // waits: 10 lines queued
    expect(await codeOf(store.writeReadings(batch('c')))).toBe(StoreErrorCode.BUSY);
    await Promise.all([first, second]);
    expect(await store.count()).toBe(20);
    await store.close();
  });

  it('sends writes already queued when closed and refuses later calls with HW_ERR_STORE_CLOSED', async () => {
    const { store, db } = await freshStore();
    const pending = store.writeReadings([reading('kim-long', 'water_level', T0, 2)]);
    const closed = store.close();
    await pending;
    await closed;
    expect(await codeOf(store.writeReadings([reading('kim-long', 'water_level', T0 + 1, 3)]))).toBe(StoreErrorCode.CLOSED);
    expect(await codeOf(store.count())).toBe(StoreErrorCode.CLOSED);
    const rows = await influxql(influxd.url, 'SELECT count("water_level") FROM "hydro"', { db });
    expect(rows.results?.[0]?.series?.[0]?.values).toEqual([[0, 1]]);
  });
});

// InfluxDB 2 is not a Debian package; this suite runs only against a server you point it at
// (store/README.md). Registered only then, so no skipped test is left behind.
const influx2 = process.env.INFLUX_URL;
if (influx2) {
  const { INFLUX_TOKEN = '', INFLUX_ORG = 'huewatch', INFLUX_BUCKET = 'huewatch' } = process.env;
  describeTimeSeriesStoreContract(`influx adapter on InfluxDB 2 at ${influx2}`, async (): Promise<TimeSeriesStore> => {
    const name = `${INFLUX_BUCKET}-test-${randomUUID().slice(0, 8)}`;
    const bucket = await createInflux2Bucket(influx2, INFLUX_TOKEN, INFLUX_ORG, name);
    const store = await openInfluxStore({ url: influx2, token: INFLUX_TOKEN, org: INFLUX_ORG, bucket: name, log });
    return {
      writeReadings: (rows) => store.writeReadings(rows),
      series: (q) => store.series(q),
      latest: (station) => store.latest(station),
      count: (filter) => store.count(filter),
      downsample: (now, retention) => store.downsample(now, retention),
      close: async () => { await store.close(); await bucket.drop(); },
    };
  });
}
