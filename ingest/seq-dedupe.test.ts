import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '../contract/topics.ts';
import type { Reading } from '../contract/telemetry.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { createIngest } from './ingest.ts';
import { SeqDedupe } from './seq-dedupe.ts';

/**
 * Issue #12.3: a reading without `ts` sent again with the same `seq` (QoS 1 redelivery,
 * store-and-forward retry) is stored once. Ingest against the real embedded store.
 */

const T0 = Date.parse('2026-11-23T03:00:00Z');
const MIN = 60_000;
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function memoryStore(): Promise<EmbeddedStore> {
  const s = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  cleanup.push(() => s.close());
  return s;
}

async function startIngest(store: EmbeddedStore, clock: { now(): number }, warm = false) {
  const metrics = new Registry();
  const ingest = createIngest({
    store, log: silentLogger(), metrics, clock,
    devices: { getDevice: async (id) => ({ deviceId: id, station: 'rg-hue', secretHash: 'x', createdAt: 0, disabled: false }) },
    ...(warm ? { sequenced: store } : {}),
  });
  await ingest.start();
  cleanup.push(() => ingest.stop());
  const duplicates = async () => (await metrics.getSingleMetric('huewatch_ingest_duplicates_total')!.get()).values[0]?.value ?? 0;
  const send = (body: unknown, device = 'rg-hue-1') => ingest.accept(device, JSON.stringify(body), topics.telemetry(device));
  return { ingest, send, duplicates };
}

const rainTotal = async (store: EmbeddedStore) =>
  (await store.series({ station: 'rg-hue', metric: 'rainfall', from: T0 - 60 * MIN, to: T0 + 48 * 60 * MIN })).reduce((n, p) => n + p.value, 0);

describe('duplicate readings by device and seq', () => {
  it('stores a reading without ts once when it comes again with the same seq, and acknowledges the copy', async () => {
    const store = await memoryStore();
    const clock = { t: T0, now() { return this.t; } };
    const { send, duplicates } = await startIngest(store, clock);
    await send({ seq: 41, m: { rainfall: 30, battery_v: 12.6 } });
    clock.t += 20_000; // the QoS 1 redelivery, 20 s later: ingest would stamp it with a new ts
    await expect(send({ seq: 41, m: { rainfall: 30, battery_v: 12.6 } })).resolves.toBeDefined(); // acknowledged
    expect(await rainTotal(store)).toBe(30);
    expect(await store.count({ station: 'rg-hue', metric: 'rainfall' })).toBe(1);
    expect(await duplicates()).toBe(1);
  });

  it('keeps what a rebooted device sends under an old seq with new values, and a copy in a store-and-forward array is dropped alone', async () => {
    const store = await memoryStore();
    const clock = { t: T0, now() { return this.t; } };
    const { send, duplicates } = await startIngest(store, clock);
    await send({ seq: 1, m: { rainfall: 4 } });
    clock.t += MIN;
    await send({ seq: 1, m: { rainfall: 7 } }); // counted from 1 again after a reboot: a new reading
    clock.t += MIN;
    await send([{ ts: T0 + 30_000, seq: 2, m: { rainfall: 1 } }, { ts: T0 + 90_000, seq: 3, m: { rainfall: 2 } }]);
    clock.t += MIN;
    // the retry of that flush: same seqs, same ts and values, plus one new reading
    await send([{ ts: T0 + 30_000, seq: 2, m: { rainfall: 1 } }, { ts: T0 + 90_000, seq: 3, m: { rainfall: 2 } }, { ts: T0 + 150_000, seq: 4, m: { rainfall: 3 } }]);
    expect(await rainTotal(store)).toBe(4 + 7 + 1 + 2 + 3);
    expect(await duplicates()).toBe(2);
  });

  it('remembers what the store holds across a restart (warmed at start), and forgets after its window', async () => {
    const store = await memoryStore();
    const clock = { t: T0, now() { return this.t; } };
    const first = await startIngest(store, clock);
    await first.send({ seq: 9, m: { rainfall: 30 } });
    await first.ingest.stop();

    clock.t += 5 * MIN;
    const second = await startIngest(store, clock, true);
    await second.send({ seq: 9, m: { rainfall: 30 } }); // the device never had its PUBACK: it sends again
    expect(await rainTotal(store)).toBe(30);
    expect(await second.duplicates()).toBe(1);

    clock.t += 25 * 60 * MIN; // a day later the same seq and value are a new reading
    await second.send({ seq: 9, m: { rainfall: 30 } });
    expect(await rainTotal(store)).toBe(60);
  });
});

describe('SeqDedupe bounds', () => {
  const reading = (seq: number, rain = 1): Reading => ({ ts: T0, seq, values: { rainfall: rain } });

  it('forgets a device\'s oldest seqs past its per-device bound, and the least recently heard device\'s past the total', () => {
    const d = new SeqDedupe({ perDevice: 3, total: 5 });
    d.remember('a', [reading(1), reading(2), reading(3), reading(4)], T0);
    expect(d.size).toBe(3);
    expect(d.duplicateOf('a', reading(1), T0)).toBeUndefined(); // forgotten: stored again if it comes
    expect(d.duplicateOf('a', reading(4), T0)).toBeDefined();
    d.remember('b', [reading(1), reading(2), reading(3)], T0 + 1);
    expect(d.size).toBe(5);
    expect(d.duplicateOf('a', reading(2), T0 + 1)).toBeUndefined();
    expect(d.duplicateOf('a', reading(3), T0 + 1)).toBeDefined();
    expect(d.duplicateOf('b', reading(1), T0 + 1)).toBeDefined();
  });

  it('forgets a reading whose write failed, so its redelivery is stored', async () => {
    const d = new SeqDedupe();
    const failed = Promise.reject(new Error('store closing'));
    d.remember('a', [reading(5)], T0, failed);
    await failed.catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    expect(d.duplicateOf('a', reading(5), T0)).toBeUndefined();
    expect(d.size).toBe(0);
  });
});
