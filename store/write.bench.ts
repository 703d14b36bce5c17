/**
 * Write-path bench for the stores (not run by vitest): `node --import tsx store/write.bench.ts [what…]`
 * with `what` among `embedded`, `spool`, `influx`, `victoria` (default: all). Prints one
 * `name value unit` line per figure; figures to compare between runs, never pass/fail.
 *
 * - embedded: EmbeddedStore.writeReadings on a fresh file database, batches of 1k, 5k and 20k
 *   fresh rows (ts rising, 100 stations, one metric), first into an empty table and then with
 *   PREFILL rows already stored (the upsert's cost grows with the table), each for ROWS rows; the
 *   same with station clocks skewed (fresh keys below the newest stored ts: the replaced-readings
 *   count runs); then 5k-row batches that rewrite rows already stored, unchanged (a redelivery)
 *   and with another seq (every row replaced and counted);
 * - spool: the same batches through a SpoolingStore in front of an EmbeddedStore (primary path);
 * - influx / victoria: InfluxStore.writeReadings (store/influx-writer.ts) in 5k-row calls against
 *   influxd 1.6.7 (through the v2→v1 test shim) and VictoriaMetrics 1.79.
 */
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore } from './duckdb.ts';
import { openInfluxStore } from './influx.ts';
import { openSpoolingStore } from './spool.ts';
import { influxql, startInfluxd, startV2WriteShim, startVictoria } from './test-servers.ts';
import type { StoredReading, TimeSeriesStore } from './types.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const log = silentLogger();
const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const PREFILL = Number(process.env.BENCH_PREFILL ?? 2_000_000);
const STATIONS = 100;
const T0 = Date.UTC(2026, 0, 1);
let tsCursor = 0;

/** `n` fresh rows: each step of ts gives one row per station (100 stations), ts rising. */
function freshRows(n: number): StoredReading[] {
  const rows: StoredReading[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = i % STATIONS;
    if (s === 0) tsCursor++;
    const ts = T0 + tsCursor * 1000;
    rows[i] = { station: `st-${s}`, device: `dev-${s}`, metric: 'water_level', ts, value: (ts % 1000) / 100 + s, seq: tsCursor, quality: 'ok' };
  }
  return rows;
}

async function timed(name: string, store: TimeSeriesStore, batch: number, total: number, make: (n: number) => StoredReading[] = freshRows): Promise<void> {
  const batches = Array.from({ length: Math.ceil(total / batch) }, () => make(batch));
  const lat: number[] = [];
  // the longest the event loop was held: what an alert or a PUBACK waits for while a batch is written
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const t0 = performance.now();
  for (const b of batches) {
    const s = performance.now();
    await store.writeReadings(b);
    lat.push(performance.now() - s);
  }
  const s = (performance.now() - t0) / 1000;
  loop.disable();
  lat.sort((a, b) => a - b);
  console.log(`${name}_batch${batch} ${Math.round((batches.length * batch) / s)} rows/s  (p50 ${lat[lat.length >> 1]!.toFixed(1)} ms, max ${lat[lat.length - 1]!.toFixed(1)} ms per batch; event loop held up to ${(loop.max / 1e6).toFixed(0)} ms)`);
}

async function embedded(dir: string, spooled: boolean): Promise<void> {
  const name = spooled ? 'spool+embedded' : 'embedded';
  const store = await openEmbeddedStore({ file: join(dir, `${name}.duckdb`), log });
  const spool = spooled ? await openSpoolingStore({ primary: store, file: join(dir, `${name}-spool.duckdb`), log, metrics: new Registry() }) : undefined;
  const target = spool ?? store;
  try {
    tsCursor = 0;
    for (const batch of [1000, 5000, 20_000, 40_000]) await timed(`${name}_empty`, target, batch, ROWS);
    // prefill in large batches (not timed), then the same batches with the table full
    for (let left = PREFILL; left > 0; left -= 20_000) await store.writeReadings(freshRows(Math.min(20_000, left)));
    console.log(`${name}_table_rows ${await store.count()} rows`);
    for (const batch of [1000, 5000, 20_000]) await timed(`${name}_full`, target, batch, ROWS);
    // fresh keys, but station clocks skewed by up to 2 s: each batch reaches below the newest stored
    // ts, so the replaced-readings join runs on every batch (the fresh case above skips it)
    for (const batch of [1000, 5000, 20_000]) await timed(`${name}_full_skewed`, target, batch, ROWS, (n) => freshRows(n).map((r, i) => ({ ...r, ts: r.ts - (i % STATIONS) * 20 })));
    // redelivery: rewrite the last 50k rows written, unchanged (every key exists, nothing differs)
    const end = tsCursor;
    tsCursor = end - 500;
    await timed(`${name}_rewrite_same`, target, 5000, 50_000);
    tsCursor = end - 500;
    await timed(`${name}_rewrite_changed`, target, 5000, 50_000, (n) => freshRows(n).map((r) => ({ ...r, seq: r.seq! + 1_000_000 })));
    tsCursor = end;
  } finally {
    await spool?.close();
    await store.close();
  }
}

async function influx(kind: 'influx' | 'victoria'): Promise<void> {
  const server = kind === 'influx' ? await startInfluxd() : await startVictoria();
  const shim = kind === 'influx' ? await startV2WriteShim(server.url) : undefined;
  try {
    if (kind === 'influx') await influxql(server.url, 'CREATE DATABASE "bench"');
    const store = await openInfluxStore({ url: shim?.url ?? server.url, org: 'o', bucket: 'bench', log });
    tsCursor = 0;
    await timed(`${kind}_warmup`, store, 5000, 50_000);
    await timed(kind, store, 5000, ROWS);
    // concurrent callers, group-committed into 5k-line batches
    const calls = Array.from({ length: 40 }, () => freshRows(1000)); // 40k lines: within maxBufferLines (50k)
    const t0 = performance.now();
    await Promise.all(calls.map((c) => store.writeReadings(c)));
    console.log(`${kind}_40x1000_concurrent ${Math.round(40_000 / ((performance.now() - t0) / 1000))} rows/s`);
    await store.close();
  } finally {
    await shim?.stop();
    await server.stop();
  }
}

const what = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['embedded', 'spool', 'influx', 'victoria']);
const dir = await mkdtemp(join(tmpdir(), 'hw-write-bench-'));
try {
  if (what.has('embedded')) await embedded(dir, false);
  if (what.has('spool')) await embedded(dir, true);
  if (what.has('influx')) await influx('influx');
  if (what.has('victoria')) await influx('victoria');
} finally {
  await rm(dir, { recursive: true, force: true });
}
