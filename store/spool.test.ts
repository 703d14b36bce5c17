import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../contract/errors.ts';
import { silentLogger } from '../lib/log.ts';
import { tempDir, waitFor } from '../test/helpers.ts';
import { openInfluxStore, type InfluxStore } from './influx.ts';
import { openSpoolingStore, type SpoolingStoreOptions } from './spool.ts';
import { freePort, influxql, startInfluxd, startV2WriteShim, type RestartableServer, type WriteShim } from './test-servers.ts';
import type { StoredReading } from './types.ts';

const log = silentLogger();
const T0 = Date.UTC(2024, 9, 1);
const reading = (i: number, value = i, station = 'kim-long'): StoredReading =>
  ({ station, device: 'kl-01', metric: 'water_level', ts: T0 + i * 1000, value, seq: i, quality: 'ok' });
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => reading(from + i));
const codeOf = (p: Promise<unknown>) => p.then(() => undefined, (err: { code?: string }) => err.code ?? String(err));
const fast = { maxRetries: 0, minRetryDelay: 10, retryJitter: 0 };

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return Number(v?.value ?? 0);
}

let influxd: RestartableServer;
let shim: WriteShim;
let dirs: Awaited<ReturnType<typeof tempDir>>;
let dbs = 0;

beforeAll(async () => {
  [influxd, dirs] = await Promise.all([startInfluxd(), tempDir('huewatch-spool-')]);
  shim = await startV2WriteShim(influxd.url);
});
afterAll(async () => {
  await shim?.stop();
  await influxd?.stop();
  await dirs?.cleanup();
});

async function freshInflux(url = shim.url): Promise<{ store: InfluxStore; db: string }> {
  const db = `spool_${++dbs}`;
  await influxql(influxd.url, `CREATE DATABASE "${db}"`);
  return { store: await openInfluxStore({ url, org: 'o', bucket: db, log, writeOptions: fast }), db };
}

const spoolOpts = (primary: SpoolingStoreOptions['primary'], metrics: Registry, over: Partial<SpoolingStoreOptions> = {}): SpoolingStoreOptions =>
  ({ primary, file: join(dirs.dir, `spool-${++dbs}.duckdb`), log, metrics, retryDelayMs: { min: 20, max: 100 }, ...over });

describe('the on-disk spool in front of a store', () => {
  it('writes straight to the store while it answers, and spools nothing', async () => {
    const { store } = await freshInflux();
    const metrics = new Registry();
    const spool = await openSpoolingStore(spoolOpts(store, metrics));
    await spool.writeReadings(range(0, 10));
    expect(spool.depth).toBe(0);
    expect(await spool.count()).toBe(10);
    expect(await metric(metrics, 'huewatch_store_written_readings_total', { path: 'primary' })).toBe(10);
    await spool.close();
    await store.close();
  });

  it('accepts writes while the store is down and replays them in order, each once, when it answers again', async () => {
    const { store } = await freshInflux();
    const metrics = new Registry();
    const spool = await openSpoolingStore(spoolOpts(store, metrics, { replayBatchRows: 7 }));
    shim.failWrites(1_000_000, 503);
    await spool.writeReadings(range(0, 20));
    // the same reading rewritten while spooled: replay in order means the later value wins
    await spool.writeReadings([reading(5, 500)]);
    await spool.writeReadings(range(20, 10));
    expect(spool.depth).toBe(31);
    expect(await spool.count()).toBe(0);
    await waitFor(async () => (await metric(metrics, 'huewatch_spool_replay_retries_total')) > 0, 5000, 'a failed replay');
    shim.failWrites(0);
    await waitFor(() => spool.depth === 0, 5000, 'the spool to drain');
    expect(await spool.count()).toBe(30);
    const points = await spool.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 60_000 });
    expect(points.map((p) => p.value)).toEqual(range(0, 30).map((r) => (r.ts === T0 + 5000 ? 500 : r.value)));
    expect(await metric(metrics, 'huewatch_store_written_readings_total', { path: 'replay' })).toBe(31);
    expect(await metric(metrics, 'huewatch_spool_bytes')).toBeGreaterThan(0);
    // drained: the next write goes to the store directly again
    await spool.writeReadings([reading(40)]);
    expect(spool.depth).toBe(0);
    expect(await spool.count()).toBe(31);
    await spool.close();
    await store.close();
  });

  it('refuses writes with HW_ERR_SPOOL_FULL at its bound, counts them, and takes writes again once there is room', async () => {
    const dead = await openInfluxStore({ url: `http://127.0.0.1:${await freePort()}`, org: 'o', bucket: 'b', log, writeOptions: fast });
    const metrics = new Registry();
    const spool = await openSpoolingStore(spoolOpts(dead, metrics, { maxRows: 100 }));
    await spool.writeReadings(range(0, 60));
    expect(await codeOf(spool.writeReadings(range(60, 50)))).toBe(ErrorCode.SPOOL_FULL);
    await spool.writeReadings(range(60, 40));
    expect(spool.depth).toBe(100);
    expect(await codeOf(spool.writeReadings(range(100, 1)))).toBe(ErrorCode.SPOOL_FULL);
    expect(await metric(metrics, 'huewatch_spool_refused_readings_total')).toBe(51);
    expect(await metric(metrics, 'huewatch_spool_depth_readings')).toBe(100);
    expect(await metric(metrics, 'huewatch_store_primary_failures_total', { code: ErrorCode.STORE_UNAVAILABLE })).toBeGreaterThan(0);
    await spool.close();
    await dead.close();
  });

  it('keeps spooled readings across a restart of the process and replays them on the next start', async () => {
    const dead = await openInfluxStore({ url: `http://127.0.0.1:${await freePort()}`, org: 'o', bucket: 'b', log, writeOptions: fast });
    const opts = spoolOpts(dead, new Registry());
    const first = await openSpoolingStore(opts);
    await first.writeReadings(range(0, 25));
    await first.close();
    await dead.close();

    const { store } = await freshInflux();
    const second = await openSpoolingStore({ ...opts, primary: store, metrics: new Registry() });
    await waitFor(() => second.depth === 0, 5000, 'the replay after restart');
    expect(await store.count()).toBe(25);
    await second.close();
    await store.close();
  });

  it('spools a write the store does not answer within the timeout', async () => {
    const { store } = await freshInflux();
    const metrics = new Registry();
    // a store that is slow rather than down: its retries outlast our timeout
    const slow = await openInfluxStore({ url: shim.url, org: 'o', bucket: `spool_${dbs}`, log, writeOptions: { maxRetries: 50, minRetryDelay: 100, maxRetryDelay: 100, retryJitter: 0 } });
    const spool = await openSpoolingStore(spoolOpts(slow, metrics, { primaryTimeoutMs: 150 }));
    shim.failWrites(5, 503);
    const started = Date.now();
    await spool.writeReadings(range(0, 3));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(spool.depth).toBe(3);
    await waitFor(() => spool.depth === 0, 5000, 'the replay');
    expect(await store.count()).toBe(3);
    await spool.close();
    await slow.close();
    await store.close();
  });

  it('spools, drops nothing and reports an outage while the database does not exist (404), and replays everything once it is created', async () => {
    const db = `missing_${++dbs}`; // never created yet: influxd answers 404 "database not found"
    const store = await openInfluxStore({ url: shim.url, org: 'o', bucket: db, log, writeOptions: fast });
    const metrics = new Registry();
    const spool = await openSpoolingStore(spoolOpts(store, metrics, { replayBatchRows: 40 }));
    expect(spool.outage).toBe(false);
    expect(spool.problems()).toEqual([]);
    for (let i = 0; i < 100; i += 10) await spool.writeReadings(range(i, 10)); // each call resolves: spooled, not dropped
    expect(spool.depth).toBe(100);
    expect(spool.outage).toBe(true);
    expect(spool.problems()).toEqual([expect.objectContaining({
      code: ErrorCode.STORE_UNAVAILABLE, status: 404, refusesAll: true, depth: 100, problem: expect.stringMatching(/database not found/),
    })]);
    expect(await metric(metrics, 'huewatch_store_outage')).toBe(1);
    // the replay keeps trying with backoff, and drops nothing
    await waitFor(async () => (await metric(metrics, 'huewatch_spool_replay_retries_total')) >= 2, 5000, 'replay retries');
    expect(spool.depth).toBe(100);
    expect(await metric(metrics, 'huewatch_spool_dropped_readings_total')).toBe(0);
    await influxql(influxd.url, `CREATE DATABASE "${db}"`);
    await waitFor(() => spool.depth === 0, 10_000, 'the replay once the database exists');
    expect(await spool.count()).toBe(100);
    expect(spool.outage).toBe(false);
    expect(spool.problems()).toEqual([]);
    expect(await metric(metrics, 'huewatch_store_outage')).toBe(0);
    expect(await metric(metrics, 'huewatch_spool_dropped_readings_total')).toBe(0);
    expect(await metric(metrics, 'huewatch_store_written_readings_total', { path: 'replay' })).toBe(100);
    await spool.close();
    await store.close();
  });

  it('treats 401 and 403 as an outage (spooled), and a 400 for a point as that point refused', async () => {
    const { store } = await freshInflux();
    const metrics = new Registry();
    const spool = await openSpoolingStore(spoolOpts(store, metrics));
    shim.failWrites(1, 401);
    await spool.writeReadings(range(0, 5));
    expect(spool.depth).toBe(5);
    expect(spool.problems()[0]).toMatchObject({ status: 401, refusesAll: true });
    await waitFor(() => spool.depth === 0, 5000, 'the replay after 401');
    shim.failWrites(3, 403);
    await spool.writeReadings(range(5, 5));
    await waitFor(() => spool.depth === 0 && !spool.outage, 5000, 'the replay after 403');
    expect(await spool.count()).toBe(10);
    expect(await metric(metrics, 'huewatch_spool_dropped_readings_total')).toBe(0);
    shim.failWrites(1, 400);
    expect(await codeOf(spool.writeReadings(range(10, 1)))).toBe(ErrorCode.STORE_REJECTED);
    expect(spool.depth).toBe(0);
    await spool.close();
    await store.close();
  });
});
