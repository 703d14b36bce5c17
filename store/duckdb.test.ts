import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { Registry } from 'prom-client';
import { createLogger, silentLogger } from '../lib/log.ts';
import { describeTimeSeriesStoreContract } from './contract-suite.ts';
import { openEmbeddedStore, type EmbeddedStore } from './duckdb.ts';
import { StoreErrorCode } from './serial-queue.ts';
import type { StoredReading } from './types.ts';

const log = silentLogger();
let dir: string;
let files = 0;
const freshFile = () => join(dir, `store-${++files}.duckdb`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'huewatch-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeTimeSeriesStoreContract('the embedded DuckDB store in a file', () => openEmbeddedStore({ file: freshFile(), log }));
describeTimeSeriesStoreContract('the embedded DuckDB store in memory', () => openEmbeddedStore({ file: ':memory:', log }));

const T0 = Date.UTC(2024, 9, 1);

function alert(id: string, eventSeq: number, patch: Partial<AlertEvent> = {}): AlertEvent {
  const sent = new Date(T0 + eventSeq * 60_000).toISOString();
  return {
    id, key: `flood:${id}`, eventSeq, msgType: eventSeq === 1 ? 'Alert' : 'Update', status: 'active',
    event: { vi: 'Lũ', en: 'Flood' }, category: 'Met', severity: 'Severe', urgency: 'Immediate', certainty: 'Observed',
    level: eventSeq, headline: { vi: `Báo động ${eventSeq}`, en: `Alarm level ${eventSeq}` },
    description: { vi: 'Mực nước sông Hương', en: 'Huong river level' }, instruction: { vi: 'Sơ tán', en: 'Evacuate' },
    area: { name: { vi: 'Kim Long', en: 'Kim Long' }, codes: ['19774'], circle: { lat: 16.46, lon: 107.55, radiusKm: 2 } },
    source: { station: 'kim-long', metric: 'water_level', value: 2 + eventSeq, threshold: 1 + eventSeq, observedAt: sent },
    sent, firstSent: new Date(T0 + 60_000).toISOString(), expires: null,
    ...patch,
  };
}

describe('the embedded store keeps platform state', () => {
  let store: EmbeddedStore;
  beforeEach(async () => {
    store = await openEmbeddedStore({ file: freshFile(), log, now: () => T0 });
  });
  afterEach(async () => {
    await store.close();
  });

  it('lists what devices sent with a seq since a time (the duplicate check of ingest warms from it), the newest within a limit', async () => {
    const row = (station: string, metric: StoredReading['metric'], ts: number, value: number, seq?: number, device = `${station}-dev`): StoredReading =>
      ({ station, device, metric, ts, value, quality: 'ok', ...(seq === undefined ? {} : { seq }) });
    await store.writeReadings([
      row('kim-long', 'water_level', T0, 2.0, 1), row('kim-long', 'water_level', T0 + 60_000, 2.1, 2), row('kim-long', 'battery_v', T0 + 60_000, 12.5, 2),
      row('rg-hue', 'rainfall', T0 + 120_000, 5), // no seq: not listed
    ]);
    const since = await store.sequencedSince(T0 + 1);
    expect(since.sort((a, b) => a.metric.localeCompare(b.metric))).toEqual([
      { device: 'kim-long-dev', seq: 2, ts: T0 + 60_000, metric: 'battery_v', value: 12.5 },
      { device: 'kim-long-dev', seq: 2, ts: T0 + 60_000, metric: 'water_level', value: 2.1 },
    ]);
    expect((await store.sequencedSince(T0, 2)).map((r) => r.ts)).toEqual([T0 + 60_000, T0 + 60_000]);
  });

  it('registers, updates and lists devices', async () => {
    expect(await store.getDevice('kl-01')).toBeUndefined();
    await store.putDevice({ deviceId: 'kl-01', station: 'kim-long', secretHash: 'scrypt$a', createdAt: T0, disabled: false });
    await store.putDevice({ deviceId: 'ab-01', station: 'a-luoi', secretHash: 'scrypt$b', createdAt: T0 + 1, disabled: false });
    await store.putDevice({ deviceId: 'kl-01', station: 'kim-long', secretHash: 'scrypt$c', createdAt: T0, disabled: true });
    expect(await store.getDevice('kl-01')).toEqual({ deviceId: 'kl-01', station: 'kim-long', secretHash: 'scrypt$c', createdAt: T0, disabled: true });
    expect((await store.listDevices()).map((d) => d.deviceId)).toEqual(['ab-01', 'kl-01']);
  });

  it('keeps every alert event in eventSeq order with its cause, and the newest as the current shape', async () => {
    const e1 = alert('a1', 1);
    const e2 = alert('a1', 2);
    const e3 = alert('a1', 3, { status: 'acknowledged', operator: { user: 'ioc-lan', at: new Date(T0).toISOString(), reason: 'seen' } });
    await store.appendAlertEvent(e1, { observation: { value: 3 } });
    await store.appendAlertEvent(e3, { by: 'operator' }); // arrives before e2
    await store.appendAlertEvent(e2);
    await store.appendAlertEvent(e2); // redelivered: changes nothing
    expect(await store.getAlert('a1')).toEqual(e3);
    expect(await store.alertHistory('a1')).toEqual([
      { event: e1, cause: { observation: { value: 3 } } },
      { event: e2, cause: undefined },
      { event: e3, cause: { by: 'operator' } },
    ]);
    expect(await store.getAlert('nope')).toBeUndefined();
    expect(await store.alertHistory('nope')).toEqual([]);
  });

  it('refuses an alert event that does not match the contract schema', async () => {
    const bad = { ...alert('a2', 1), severity: 'Terrible' } as unknown as AlertEvent;
    await expect(store.appendAlertEvent(bad)).rejects.toThrow();
    expect(await store.getAlert('a2')).toBeUndefined();
  });

  it('lists alerts newest first, filtered by status', async () => {
    await store.appendAlertEvent(alert('old', 1));
    await store.appendAlertEvent(alert('mid', 2, { status: 'resolved', level: 0 }));
    await store.appendAlertEvent(alert('new', 3, { status: 'acknowledged' }));
    expect((await store.listAlerts()).map((a) => a.id)).toEqual(['new', 'mid', 'old']);
    expect((await store.listAlerts({ status: ['active', 'acknowledged'] })).map((a) => a.id)).toEqual(['new', 'old']);
    expect((await store.listAlerts({ status: ['resolved'] })).map((a) => a.id)).toEqual(['mid']);
    expect(await store.listAlerts({ status: [] })).toEqual([]);
  });

  it('stores, lists and deletes JSON documents per namespace', async () => {
    expect(await store.getJson('rules', 'flood:kim-long')).toBeUndefined();
    await store.putJson('rules', 'flood:kim-long', { level: 2, since: T0 });
    await store.putJson('rules', 'aqi:hue', { vnAqi: 160 });
    await store.putJson('rules', 'flood:kim-long', { level: 3, since: T0 });
    await store.putJson('push', 'flood:kim-long', ['endpoint']);
    expect(await store.getJson('rules', 'flood:kim-long')).toEqual({ level: 3, since: T0 });
    expect(await store.listJson('rules')).toEqual([
      { key: 'aqi:hue', value: { vnAqi: 160 } },
      { key: 'flood:kim-long', value: { level: 3, since: T0 } },
    ]);
    await store.deleteJson('rules', 'flood:kim-long');
    expect(await store.listJson('rules')).toEqual([{ key: 'aqi:hue', value: { vnAqi: 160 } }]);
    expect(await store.getJson('push', 'flood:kim-long')).toEqual(['endpoint']);
  });

  it('applies a batch of puts and deletes in one call, the last change of a key winning', async () => {
    await store.putJson('outbox', 'k1', { n: 1 });
    await store.putJson('outbox', 'k2', { n: 2 });
    await store.putJson('other', 'k1', { n: 'other' });
    await store.writeJsonBatch('outbox', [
      { key: 'k1' }, // delete
      { key: 'k3', value: { n: 3 } },
      { key: 'k2', value: { n: 22 } },
      { key: 'k4', value: { n: 4 } },
      { key: 'k4' }, // put then delete: gone
      { key: 'k5' }, // delete of what is not there: nothing
      ...Array.from({ length: 2_000 }, (_, i) => ({ key: `m${String(i).padStart(4, '0')}`, value: { i } })),
    ]);
    const kept = await store.listJson<{ n?: unknown; i?: number }>('outbox');
    expect(kept.filter((e) => e.key.startsWith('k'))).toEqual([{ key: 'k2', value: { n: 22 } }, { key: 'k3', value: { n: 3 } }]);
    expect(kept.filter((e) => e.key.startsWith('m'))).toHaveLength(2_000);
    expect(await store.getJson('other', 'k1')).toEqual({ n: 'other' }); // other namespaces untouched
    await expect(store.writeJsonBatch('outbox', [{ key: 'bad', value: () => 1 }])).rejects.toMatchObject({ code: StoreErrorCode.BAD_REQUEST });
    await store.writeJsonBatch('outbox', kept.map((e) => ({ key: e.key })));
    expect(await store.listJson('outbox')).toEqual([]);
  });

  it('serialises concurrent calls from different callers without losing any', async () => {
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 50 }, (_, i): StoredReading => ({
        station: `st-${b % 5}`, device: 'd', metric: 'water_level', ts: T0 + (b * 50 + i) * 1000, value: i, quality: 'ok',
      })));
    await Promise.all([
      ...batches.map((rows) => store.writeReadings(rows)),
      ...Array.from({ length: 20 }, (_, i) => store.appendAlertEvent(alert(`c${i}`, 1))),
      ...Array.from({ length: 20 }, (_, i) => store.putJson('ns', `k${i}`, i)),
      ...Array.from({ length: 20 }, () => store.count()),
    ]);
    expect(await store.count()).toBe(1000);
    expect(await store.listAlerts()).toHaveLength(20);
    expect(await store.listJson('ns')).toHaveLength(20);
  });

  it('refuses a bucket width that is not a positive whole number of milliseconds', async () => {
    const q = { station: 's', metric: 'rainfall' as const, from: T0, to: T0 + 1000 };
    await expect(store.series({ ...q, every: 0 })).rejects.toMatchObject({ code: StoreErrorCode.BAD_REQUEST });
    await expect(store.series({ ...q, every: 1.5 })).rejects.toMatchObject({ code: StoreErrorCode.BAD_REQUEST });
  });
});

describe('the embedded store file outlives the process that wrote it', () => {
  it('keeps readings and state after close and reopen, and refuses calls once closed', async () => {
    const file = freshFile();
    const first = await openEmbeddedStore({ file, log });
    await first.writeReadings([{ station: 'kim-long', device: 'kl-01', metric: 'water_level', ts: T0, value: 2.31, seq: 7, quality: 'ok' }]);
    await first.putDevice({ deviceId: 'kl-01', station: 'kim-long', secretHash: 'h', createdAt: T0, disabled: false });
    await first.appendAlertEvent(alert('r1', 1), { why: 'level 1 crossed' });
    await first.putJson('rules', 'flood:kim-long', { level: 1 });
    await first.close();
    await expect(first.count()).rejects.toMatchObject({ code: StoreErrorCode.CLOSED });

    const second = await openEmbeddedStore({ file, log });
    try {
      expect(await second.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 1 })).toEqual([{ ts: T0, value: 2.31 }]);
      expect(await second.getDevice('kl-01')).toMatchObject({ station: 'kim-long' });
      expect(await second.alertHistory('r1')).toEqual([{ event: alert('r1', 1), cause: { why: 'level 1 crossed' } }]);
      expect(await second.getJson('rules', 'flood:kim-long')).toEqual({ level: 1 });
    } finally {
      await second.close();
    }
  });

  it('releases the file so another process can open it right after close', async () => {
    const file = freshFile();
    const store = await openEmbeddedStore({ file, log });
    await store.writeReadings([{ station: 'a-luoi', device: 'd', metric: 'rainfall', ts: T0, value: 12, quality: 'ok' }]);
    await store.close();
    // plain ESM in a child process: DuckDB's file lock is per process, so only another process proves it was released
    const script = `import { DuckDBInstance } from '@duckdb/node-api';
      const db = await DuckDBInstance.create(process.argv[1]); const c = await db.connect();
      const r = await c.runAndReadAll('SELECT count(*) FROM readings'); console.log(String(r.getRows()[0][0]));
      c.closeSync(); db.closeSync();`;
    const root = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, file], { cwd: root });
    expect(stdout.trim()).toBe('1');
  });
});

describe('the embedded store counts what last-write-wins replaces', () => {
  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    return { lines, log: createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }) };
  }
  const row = (ts: number, value: number, seq: number | undefined, extra: Partial<StoredReading> = {}): StoredReading =>
    ({ station: 'kim-long', device: 'kl-01', metric: 'water_level', ts: T0 + ts, value, quality: 'ok', ...(seq === undefined ? {} : { seq }), ...extra });

  it('keeps the last write, counts rows whose value or seq differed in huewatch_store_readings_replaced_total, and logs both seqs once per interval', async () => {
    const metrics = new Registry();
    const { lines, log: captured } = capture();
    const store = await openEmbeddedStore({ file: freshFile(), log: captured, metrics });
    try {
      await store.writeReadings([row(0, 1, 1), row(1000, 2, 2), row(2000, 3, 3)]);
      // redelivery: same value and seq, nothing replaced
      await store.writeReadings([row(0, 1, 1), row(1000, 2, 2)]);
      // another seq for an existing (station, metric, ts): replaced, last write wins
      await store.writeReadings([row(1000, 2, 99), row(3000, 4, 4)]);
      // same seq, another value: replaced too; and a change of seq on a second row in the same batch
      await store.writeReadings([row(2000, 3.5, 3), row(0, 1, 7)]);
      expect(await store.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 10_000 })).toEqual([
        { ts: T0, value: 1 }, { ts: T0 + 1000, value: 2 }, { ts: T0 + 2000, value: 3.5 }, { ts: T0 + 3000, value: 4 },
      ]);
      expect(await store.count()).toBe(4);
      expect(store.stats.replacedReadings).toBe(3);
      expect(await metrics.metrics()).toContain('huewatch_store_readings_replaced_total 3');
      const logged = lines.filter((l) => String(l.msg).startsWith('stored readings replaced'));
      expect(logged).toHaveLength(1); // the second batch with replacements falls in the same interval
      expect(logged[0]).toMatchObject({ replaced: 1, station: 'kim-long', metric: 'water_level', ts: T0 + 1000, storedSeq: 2, newSeq: 99 });
    } finally {
      await store.close();
    }
  });

  it('counts a replacement of a reading written before the file was reopened', async () => {
    const file = freshFile();
    const first = await openEmbeddedStore({ file, log });
    await first.writeReadings([row(0, 1, 1), row(5000, 2, 2)]);
    await first.close();
    const store = await openEmbeddedStore({ file, log });
    try {
      await store.writeReadings([row(6000, 3, 3)]); // newer than anything stored: nothing to compare
      await store.writeReadings([row(5000, 2, 12), row(7000, 4, 4)]);
      expect(store.stats.replacedReadings).toBe(1);
      expect(await store.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 10_000 })).toHaveLength(4);
    } finally {
      await store.close();
    }
  });

  it('drops a NaN/Infinity row alone: the rest of its batch is stored, nothing is stored as ok', async () => {
    const metrics = new Registry();
    const store = await openEmbeddedStore({ file: freshFile(), log, metrics });
    try {
      await store.writeReadings([row(0, 1, 1), row(1000, Number.NaN, 2), row(2000, Number.POSITIVE_INFINITY, 3), row(3000, 4, 4), row(4000, Number.NEGATIVE_INFINITY, 5)]);
      expect(await store.series({ station: 'kim-long', metric: 'water_level', from: T0, to: T0 + 10_000 })).toEqual([{ ts: T0, value: 1 }, { ts: T0 + 3000, value: 4 }]);
      expect(store.stats.nonFiniteDropped).toBe(3);
      expect(await metrics.metrics()).toContain('huewatch_store_non_finite_dropped_total{store="embedded"} 3');
      await store.writeReadings([row(5000, Number.NaN, 6)]); // a batch of only such rows writes nothing and does not fail
      expect(await store.count()).toBe(2);
    } finally {
      await store.close();
    }
  });
});
