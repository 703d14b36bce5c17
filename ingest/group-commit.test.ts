import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { StoreError, StoreErrorCode } from '../store/serial-queue.ts';
import type { StoredReading } from '../store/types.ts';
import { createGroupCommit, GroupCommitClosedError } from './group-commit.ts';

const T0 = Date.UTC(2026, 10, 1);
const row = (station: string, i: number, value = 1): StoredReading => ({ station, device: `${station}-1`, metric: 'water_level', ts: T0 + i * 1000, value, quality: 'ok', seq: i });

let dir: string;
let store: EmbeddedStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'group-commit-'));
  store = await openEmbeddedStore({ file: join(dir, 'readings.duckdb'), log: silentLogger() });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** The real store behind a counter of its writes, and a gate that can hold them. */
function counted(target: EmbeddedStore) {
  const calls: number[] = [];
  let gate: Promise<void> | undefined;
  return {
    calls,
    hold() {
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      return () => { gate = undefined; open(); };
    },
    async write(rows: readonly StoredReading[]) {
      calls.push(rows.length);
      await gate;
      await target.writeReadings(rows);
    },
  };
}

describe('group commit', () => {
  it('stores many devices’ readings in few writes, and answers each caller once its rows are durable', async () => {
    const w = counted(store);
    const commit = createGroupCommit({ write: w.write, log: silentLogger(), metrics: new Registry() });
    const outcomes = await Promise.all(Array.from({ length: 2_000 }, (_, i) => commit.add([row(`s${i % 50}`, i)])));
    expect(outcomes.every((o) => o === 'stored')).toBe(true);
    expect(await store.count()).toBe(2_000);
    expect(w.calls.length).toBeLessThan(20);
    expect(w.calls.reduce((a, b) => a + b, 0)).toBe(2_000);
  });

  it('makes callers wait for room at the bound while a write is slow, and takes them in order once it ends', async () => {
    const w = counted(store);
    const release = w.hold();
    const commit = createGroupCommit({ write: w.write, log: silentLogger(), metrics: new Registry(), maxPendingRows: 10 });
    const first = Array.from({ length: 10 }, (_, i) => commit.add([row('a', i)]));
    const settled: number[] = [];
    first.forEach((p, i) => void p.then(() => settled.push(i)));
    await new Promise((r) => setTimeout(r, 20));
    const over = commit.add([row('a', 10)]);
    void over.then(() => settled.push(10));
    await new Promise((r) => setTimeout(r, 50));
    expect(commit.pendingRows).toBe(10); // the eleventh is not even gathered
    expect(settled).toEqual([]);
    release();
    await Promise.all([...first, over]);
    expect(settled).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await store.count()).toBe(11);
  });

  it('withholds every answer while the store refuses, retries, and loses nothing when it is back', async () => {
    let refusals = 3;
    const commit = createGroupCommit({
      // the store is down for three writes: what SpoolingStore throws with its spool full
      write: async (rows) => {
        if (refusals-- > 0) throw new StoreError(StoreErrorCode.SPOOL_FULL, 'spool full');
        await store.writeReadings(rows);
      },
      log: silentLogger(), metrics: new Registry(), retryDelayMs: { min: 5, max: 20 },
    });
    let answered = 0;
    const all = Array.from({ length: 100 }, (_, i) => commit.add([row('b', i)]).then((o) => { answered++; return o; }));
    await new Promise((r) => setTimeout(r, 8));
    expect(answered).toBe(0);
    expect(await Promise.all(all)).toEqual(Array(100).fill('stored'));
    expect(await store.count()).toBe(100);
  });

  it('drops only the rows the store refuses for good, and stores the other callers’ rows of the same batch', async () => {
    const commit = createGroupCommit({
      // a store that refuses a batch holding a negative seq for good (as InfluxDB does a field type conflict)
      write: async (rows) => {
        if (rows.some((r) => (r.seq ?? 0) < 0)) throw new StoreError(StoreErrorCode.BAD_REQUEST, 'field type conflict');
        await store.writeReadings(rows);
      },
      log: silentLogger(), metrics: new Registry(),
    });
    const outcomes = await Promise.all([commit.add([row('c', 1)]), commit.add([{ ...row('c', 2), seq: -1 }]), commit.add([row('c', 3)])]);
    expect(outcomes).toEqual(['stored', 'refused', 'stored']);
    expect(await store.count()).toBe(2);
  });

  it('finishes what it took when closed, and takes nothing after', async () => {
    const commit = createGroupCommit({ write: (rows) => store.writeReadings(rows), log: silentLogger(), metrics: new Registry() });
    const taken = Array.from({ length: 50 }, (_, i) => commit.add([row('d', i)]));
    await commit.close();
    expect(await Promise.all(taken)).toEqual(Array(50).fill('stored'));
    await expect(commit.add([row('d', 99)])).rejects.toBeInstanceOf(GroupCommitClosedError);
    expect(await store.count()).toBe(50);
  });
});
