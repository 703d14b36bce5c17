/**
 * Store bench: `node --import tsx bench/store.ts [readingsPerRun]` (default 20,000). Figures to
 * compare between runs, never pass/fail. Prints one `name value unit` line per figure.
 *
 * Every run starts the whole platform in this process (test/helpers.ts `startTestPlatform`: broker,
 * ingest, rules, API on ephemeral loopback ports, a fresh temp DATA_DIR), registers one device and
 * publishes from a real MQTT.js device client at QoS 1, one reading (one `water_level` value) per
 * message, with at most WINDOW messages awaiting their PUBACK. The broker sends that PUBACK only
 * once ingest has the reading durable (in the store or in the on-disk spool: ingest/README.md);
 * the clock stops when `/metrics` shows every reading written
 * (`huewatch_store_written_readings_total{path=primary|spool}`, store/spool.ts): the figure is
 * first publish → last durable write. One device: for many devices see bench/ingest.ts.
 *
 * 1. readings/s to each store: embedded DuckDB (STORE=embedded), InfluxDB 1.6.7 (STORE=influx
 *    through the v2→v1 test shim of store/test-servers.ts) and VictoriaMetrics 1.79 (STORE=influx,
 *    its own /api/v2/write);
 * 2. the same with the store down: influxd is killed before the run (after the platform started:
 *    it does not start without its store), so after the first write fails every reading goes to
 *    the spool (DATA_DIR/spool.duckdb) only;
 * 3. memory with 100,000 readings spooled (store down): process.memoryUsage() of this process (the
 *    platform runs in it) before and after, after a forced GC, and the spool file + WAL on disk.
 *    These readings go as store-and-forward flushes (SPOOL_FLUSH readings per message) so the run
 *    stays short; what is measured is what the spool holds, not the message path.
 *
 * Each run warms up first (WARMUP readings, not timed). With the store down the warm-up is what
 * switches ingest to spooling: its first write waits for the InfluxDB adapter's retries (0.5 + 1 +
 * 2 s) or SPOOL_WRITE_TIMEOUT_MS, printed as its own figure.
 *
 * Limits: every loop is bounded by a count and each run by RUN_DEADLINE_MS (a run cut short says so
 * and reports what it got); the whole bench exits past TOTAL_DEADLINE_MS. Loopback only; servers
 * are killed and temp dirs removed at the end (store/test-servers.ts also kills its servers if the
 * process exits early).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MqttClient } from 'mqtt';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { influxql, startInfluxd, startV2WriteShim, startVictoria, type RestartableServer, type RunningServer, type WriteShim } from '../store/test-servers.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from '../test/helpers.ts';
import { countArg, note, print } from './report.ts';

const DEFAULT_READINGS = 20_000;
const MAX_READINGS = 1_000_000;
/** QoS 1 messages awaiting their PUBACK at once */
const WINDOW = 100;
/** readings published (and made durable) before the clock starts */
const WARMUP = 200;
/** readings spooled for the memory figure */
const SPOOLED = 100_000;
/** readings per store-and-forward message in the memory run (MAX_READINGS_PER_MESSAGE is 1,000) */
const SPOOL_FLUSH = 100;
/** one run: publishing and waiting for the last durable write */
const RUN_DEADLINE_MS = 240_000;
/** the whole bench, servers included */
const TOTAL_DEADLINE_MS = 20 * 60_000;
/** how often /metrics is read while waiting */
const POLL_MS = 100;
const STATION = 'kim-long';
const DEVICE = 'bench-store-01';


const total = setTimeout(() => {
  process.stderr.write(`bench/store.ts: overall deadline of ${TOTAL_DEADLINE_MS / 1000} s passed; exiting (servers are killed on exit)\n`);
  process.exit(1);
}, TOTAL_DEADLINE_MS);
total.unref();

/** a real GC before each memory sample (the bench runs without --expose-gc) */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;


/** Sum of every sample of a metric whose line starts with `prefix` (name, or name{labels}). */
async function metric(platform: Platform, prefix: string): Promise<number> {
  const text = await (await fetch(`${platform.httpUrl!}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

/**
 * Readings `first`..`first+count-1`, one per second of observation time from `t0`, water levels
 * below Kim Long's first alarm level (1.0 m) and flat, so no rule fires.
 */
function payload(t0: number, first: number, count: number): string {
  const one = (i: number) => ({ ts: t0 + i * 1000, seq: i, m: { water_level: 0.5 + (i % 50) / 1000 } });
  return count === 1 ? JSON.stringify(one(first)) : JSON.stringify(Array.from({ length: count }, (_, k) => one(first + k)));
}

/**
 * Publishes `messages` QoS 1 messages of `perMessage` readings from `first`, at most WINDOW
 * unacknowledged, stopping early at `deadline` (performance.now()). Returns the messages acknowledged.
 */
async function publishWindowed(device: MqttClient, t0: number, first: number, messages: number, perMessage: number, deadline: number): Promise<number> {
  let next = 0;
  let acked = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < messages && failure === undefined && performance.now() < deadline) {
      const k = next++;
      await device.publishAsync(topics.telemetry(DEVICE), payload(t0, first + k * perMessage, perMessage), { qos: 1 }).then(
        () => void acked++,
        (err: unknown) => void (failure = err),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, messages) }, lane));
  if (failure !== undefined) throw failure;
  return acked;
}

/** Polls `/metrics` until `counter` has grown by `want`, or `deadline`; returns the growth seen. */
async function waitForCounter(platform: Platform, counter: string, base: number, want: number, deadline: number, onPoll?: () => void, pollMs = POLL_MS): Promise<number> {
  for (;;) {
    const got = (await metric(platform, counter)) - base;
    onPoll?.();
    if (got >= want || performance.now() >= deadline) return got;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

interface Session {
  platform: Platform;
  device: MqttClient;
  dataDir: string;
  /** observation time of reading 0: readings go one second apart from here */
  t0: number;
  /** disconnects the device and stops the platform (the spool is checkpointed and closed); the data dir stays */
  stop(): Promise<void>;
  /** stop(), then removes the data dir */
  close(): Promise<void>;
}

async function startSession(env: Record<string, string>): Promise<Session> {
  const data = await tempDir('huewatch-bench-store-');
  let platform: Platform | undefined;
  try {
    // one device sends every reading of the run: the per-device quota would measure itself
    platform = await startTestPlatform(data.dir, { DEVICE_MAX_MSGS_PER_S: '0', DEVICE_MAX_BYTES_PER_S: '0', ...env });
    const secret = await registerDevice(platform, DEVICE, STATION);
    const device = await connectClient(platform.mqttUrl, { username: DEVICE, password: secret, clientId: DEVICE });
    const p = platform;
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= (async () => {
      await device.endAsync().catch(() => undefined);
      await p.stop();
    })());
    return {
      platform: p, device, dataDir: data.dir,
      // within ingest's 30-day age limit, in the past for every reading of a run
      t0: Date.now() - 7 * 86_400_000,
      stop,
      async close() {
        await stop();
        await data.cleanup();
      },
    };
  } catch (err) {
    await platform?.stop();
    await data.cleanup();
    throw err;
  }
}

/** the counter a durable reading shows up in: straight to the store, or to the spool */
const WRITTEN = (path: 'primary' | 'spool') => `huewatch_store_written_readings_total{path="${path}"}`;

/**
 * Warm-up, then N single-reading messages timed from the first publish to `/metrics` showing all N
 * durable on `path`. Returns readings/s and how long the warm-up's first reading took.
 */
async function throughputRun(s: Session, n: number, path: 'primary' | 'spool'): Promise<{ rate: number; done: number; firstMs: number }> {
  const deadline = performance.now() + RUN_DEADLINE_MS;
  // the broker's PUBACK only says the broker has it; durable is ingest's write, seen in /metrics
  const w0 = performance.now();
  await s.device.publishAsync(topics.telemetry(DEVICE), payload(s.t0, 0, 1), { qos: 1 });
  await waitForCounter(s.platform, WRITTEN(path), 0, 1, deadline, undefined, 5);
  const firstMs = performance.now() - w0;
  await publishWindowed(s.device, s.t0, 1, WARMUP - 1, 1, deadline);
  const warm = await waitForCounter(s.platform, WRITTEN(path), 0, WARMUP, deadline);
  if (warm < WARMUP) throw new Error(`warm-up: ${warm} of ${WARMUP} readings written on path=${path}`);
  const base = await metric(s.platform, WRITTEN(path));
  const started = performance.now();
  await publishWindowed(s.device, s.t0, WARMUP, n, 1, deadline);
  const done = await waitForCounter(s.platform, WRITTEN(path), base, n, deadline);
  const seconds = (performance.now() - started) / 1000;
  return { rate: done / seconds, done, firstMs };
}

function reportRate(name: string, r: { rate: number; done: number }, n: number): void {
  print(r.done < n ? `${name} (cut at ${RUN_DEADLINE_MS / 1000} s: ${r.done}/${n})` : name, r.rate, 'readings/s');
}

async function benchStoreUp(label: string, env: Record<string, string>, n: number, check?: (expected: number) => Promise<number>): Promise<void> {
  const s = await startSession(env);
  try {
    const r = await throughputRun(s, n, 'primary');
    reportRate(`MQTT QoS 1 → durable, ${label}`, r, n);
    if (check) {
      const expected = WARMUP + r.done;
      const got = await check(expected);
      if (got !== expected) throw new Error(`${label}: the store holds ${got} readings, ${expected} were acknowledged`);
    }
  } finally {
    await s.close();
  }
}

/**
 * A platform on InfluxDB (through the shim) started while influxd is up, then influxd killed: the
 * all-in-one platform does not start with the store down (the rules engine warms its windows from
 * the store at start and fails), so the outage begins after start and before the first reading.
 */
async function startSessionStoreDown(influxd: RestartableServer, shim: WriteShim, db: string): Promise<Session> {
  await influxd.restart(); // up again if an earlier run killed it (same port and data)
  await influxql(influxd.url, `CREATE DATABASE "${db}"`);
  const s = await startSession({ STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: db });
  try {
    await influxd.kill(); // from here on the shim answers 502 to every write
    return s;
  } catch (err) {
    await s.close();
    throw err;
  }
}

async function benchStoreDown(influxd: RestartableServer, shim: WriteShim, n: number): Promise<void> {
  const s = await startSessionStoreDown(influxd, shim, 'bench_down');
  try {
    const r = await throughputRun(s, n, 'spool');
    print('store down: first reading durable (primary fails → spool)', r.firstMs, 'ms');
    reportRate('MQTT QoS 1 → durable, store down (spool only)', r, n);
    print('  primary writes during the run (must be 0)', await metric(s.platform, WRITTEN('primary')), 'readings');
  } finally {
    await s.close();
  }
}

async function benchSpoolMemory(influxd: RestartableServer, shim: WriteShim): Promise<void> {
  const s = await startSessionStoreDown(influxd, shim, 'bench_memory');
  try {
    const deadline = performance.now() + RUN_DEADLINE_MS;
    // into spooling mode (the first write waits for the primary to fail), then the baseline
    await publishWindowed(s.device, s.t0, 0, WARMUP, 1, deadline);
    await waitForCounter(s.platform, WRITTEN('spool'), 0, WARMUP, deadline);
    gc();
    const before = process.memoryUsage();
    const base = await metric(s.platform, WRITTEN('spool'));
    let peakRss = before.rss;
    const sample = () => void (peakRss = Math.max(peakRss, process.memoryUsage().rss));
    const started = performance.now();
    const sampler = setInterval(sample, 250);
    try {
      await publishWindowed(s.device, s.t0, WARMUP, SPOOLED / SPOOL_FLUSH, SPOOL_FLUSH, deadline);
      const done = await waitForCounter(s.platform, WRITTEN('spool'), base, SPOOLED, deadline, sample);
      const seconds = (performance.now() - started) / 1000;
      reportRate(`store down: ${SPOOL_FLUSH}-reading store-and-forward messages → spool`, { rate: done / seconds, done }, SPOOLED);
    } finally {
      clearInterval(sampler);
    }
    const depth = await metric(s.platform, 'huewatch_spool_depth_readings');
    gc();
    const after = process.memoryUsage();
    const file = join(s.dataDir, 'spool.duckdb');
    const size = async (f: string) => (await stat(f).catch(() => undefined))?.size ?? 0;
    const [db, wal] = [await size(file), await size(`${file}.wal`)];
    const mb = (b: number) => b / 1e6;
    print('spool depth (readings on disk, warm-up included)', depth, 'readings');
    print('process RSS before (platform up, spooling, after GC)', mb(before.rss), 'MB');
    print(`process RSS with ${depth} readings spooled (after GC)`, mb(after.rss), 'MB');
    print('process RSS peak while spooling', mb(peakRss), 'MB');
    print('process heap used before (after GC)', mb(before.heapUsed), 'MB');
    print(`process heap used with ${depth} readings spooled (after GC)`, mb(after.heapUsed), 'MB');
    print('spool on disk while spooled: spool.duckdb', mb(db), 'MB');
    print('spool on disk while spooled: spool.duckdb.wal', mb(wal), 'MB');
    print('spool on disk while spooled, per reading (file + WAL)', (db + wal) / depth, 'bytes');
    await s.stop(); // close() checkpoints the WAL into the file
    const [dbClosed, walClosed] = [await size(file), await size(`${file}.wal`)];
    print('spool on disk after close (checkpointed): file + WAL', mb(dbClosed + walClosed), 'MB');
    print('spool on disk after close, per reading', (dbClosed + walClosed) / depth, 'bytes');
  } finally {
    await s.close();
  }
}

const n = countArg('readingsPerRun', process.argv[2], DEFAULT_READINGS, MAX_READINGS);
let influxd: RestartableServer | undefined;
let shim: WriteShim | undefined;
let victoria: RunningServer | undefined;
try {
  [influxd, victoria] = await Promise.all([startInfluxd(), startVictoria()]);
  shim = await startV2WriteShim(influxd.url);
  await influxql(influxd.url, 'CREATE DATABASE "bench_up"');
  note(`${n} readings per run, one per QoS 1 message, window ${WINDOW}; whole platform in this process`);

  await benchStoreUp('embedded DuckDB', { STORE: 'embedded' }, n);
  const influxUrl = influxd.url;
  await benchStoreUp('InfluxDB 1.6.7 (test shim)', { STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: 'bench_up' }, n, async () => {
    const body = await influxql(influxUrl, 'SELECT count("water_level") FROM "hydro"', { db: 'bench_up' });
    return Number(body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
  });
  await benchStoreUp('VictoriaMetrics 1.79', { STORE: 'influx', INFLUX_URL: victoria.url, INFLUX_BUCKET: 'bench' }, n);

  await benchStoreDown(influxd, shim, n);
  await benchSpoolMemory(influxd, shim);
} finally {
  await shim?.stop();
  await influxd?.stop();
  await victoria?.stop();
  clearTimeout(total);
}
