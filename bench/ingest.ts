/**
 * Ingest bench: `node --import tsx bench/ingest.ts [seconds]` (or env BENCH_SECONDS; default 60 s
 * of load per run). Every figure of the platform is printed beside the same load against the
 * reference pipeline (bench/reference.ts: Debian mosquitto + a minimal MQTT.js ingest with group
 * commit on the same kind of store), with the ratio platform/reference. Never pass/fail.
 *
 * The platform is driven only through its documented entry points, as a stranger would: a child
 * process `node bin/huewatch.js start` (SIM=0, a temp DATA_DIR, free loopback ports, STORE=embedded
 * or STORE=influx + INFLUX_URL), ready when `GET /health` answers, devices registered with
 * `POST /api/v1/devices` and the admin token of DATA_DIR/secrets.json, readings stored counted with
 * `/metrics` (`huewatch_ingest_readings_stored_total`). A fresh platform (and a fresh store
 * database) per run, so counters and the child's peak RSS (VmHWM) belong to that run.
 *
 * Load (bench/load.ts): 100 devices, MQTT.js, QoS 1, window 10 per device, registered to the rain
 * gauges and air-quality stations (no rule watches water_level there, so the load raises no alert).
 * Runs, on each store (embedded DuckDB, InfluxDB 1.6.7 via the test shim, VictoriaMetrics 1.79):
 *   1. one reading per message, as fast as PUBACKs allow;
 *   2. store-and-forward arrays of 100 readings;
 *   3. overload: twice the stored rate of run 1 offered; stored rate as % of that peak, the
 *      process's peak RSS, publish → PUBACK p99, lost = acknowledged − stored.
 * And on the embedded store: alert latency under the saturating burst of run 1, and under a steady
 * 5,000 readings/s: an anonymous resident subscribed to `huewatch/v1/alerts/#`; two extra devices
 * (Kim Long, Phú Ốc: alarm level 3 at 3.5 and 4.5 m) publish a crossing of level 3 observed now
 * and a reading back below it (the platform runs a copy of config/rules.yaml whose two flood rules
 * end an alert at once, holdFall 0s; holdRise 0s: the first reading at or above fires), CROSSINGS
 * per run in all; device publish →
 * the level-3 alert whose `source.observedAt` is that reading, p50/p99. The reference's "rule" is a
 * threshold check after the durable write, published to mosquitto.
 *
 * Stored rate = readings stored / (first publish → the moment the stored count reached the
 * acknowledged count, polled every POLL_MS). "lost" = readings acknowledged − readings stored once
 * the count stops growing: a PUBACK must mean stored.
 *
 * Limits: every loop bounded by a count and a deadline (RUN_DEADLINE_MS per run, the whole bench
 * TOTAL_DEADLINE_MS); loopback only; temp dirs; children killed on exit, error included.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { parseDocument } from 'yaml';
import { influxql, startInfluxd, startV2WriteShim, startVictoria, type RestartableServer, type RunningServer, type WriteShim } from '../store/test-servers.ts';
import { startPlatformProcess } from './platform-child.ts';
import { connectAll, connectDevice, percentiles, runLoadInChild, type LoadDevice, type LoadResult, type Percentiles } from './load.ts';
import { openStore, startMosquitto, startReferenceIngest, type StoreKind } from './reference.ts';
import { note, print } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEVICES = 100;
const WINDOW = 10;
const SF_READINGS = 100;
/** stations of the load: no rule watches water_level there */
const LOAD_STATIONS = ['rg-hue', 'rg-nam-dong', 'rg-a-luoi', 'rg-bach-ma', 'rg-thuong-nhat', 'rg-huong-phu', 'aq-hue-center', 'aq-phu-bai'];
/** river stations with alarm level 3 (config/rules.yaml, config/hue-stations.json) */
const ALARM3: ReadonlyArray<{ station: string; level3: number }> = [
  { station: 'kim-long', level3: 3.5 },
  { station: 'phu-oc', level3: 4.5 },
];
const CROSSINGS = 50;
/** warm-up before each measured run (JIT, connections, store files), on stations the load never uses */
const WARMUP_STATIONS = ['ta-trach', 'binh-dien', 'huong-dien', 'a-luoi'];
const WARMUP_DEVICES = 20;
const WARMUP_MS = 1000 * Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/**
 * The flood rules of the crossing stations end an alert on the first reading back below
 * (holdFall 0s in the bench's copy of config/rules.yaml, benchRulesFile): a crossing cycle is a
 * reading above level 3 and one below, both observed now. A reading's ts must be current (a
 * reading received over an hour after its ts raises no alert: rules/lateness.ts), so the 15-minute
 * hold of the real rule would allow one crossing per quarter hour.
 */
const CROSSING_RULES = ['flood-kim-long', 'flood-phu-oc'];
const STEADY_RATE = 5_000;
const POLL_MS = 250;
/** after the load, how long PUBACKs and the stored count may take to catch up (env BENCH_DRAIN_SECONDS) */
const DRAIN_MS = 1000 * Number(process.env.BENCH_DRAIN_SECONDS ?? 60);
const RUN_DEADLINE_MS = 10 * 60_000;
const TOTAL_DEADLINE_MS = 90 * 60_000;
const READY_TIMEOUT_MS = 90_000;

const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 60);
if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600) throw new Error(`seconds: 1..3600, not ${process.argv[2] ?? process.env.BENCH_SECONDS}`);
const DURATION_MS = seconds * 1000;
/** BENCH_STORES=embedded,influxd,victoria (default all); BENCH_RUNS=single,sf,overload,alerts */
const only = (name: string, all: string[]) => new Set((process.env[name] ?? all.join(',')).split(',').map((s) => s.trim()));
const STORES = only('BENCH_STORES', ['embedded', 'influxd', 'victoria']);
const RUNS = only('BENCH_RUNS', ['single', 'sf', 'overload', 'alerts']);

const total = setTimeout(() => {
  process.stderr.write(`bench/ingest.ts: overall deadline of ${TOTAL_DEADLINE_MS / 60_000} min passed; exiting (children are killed on exit)\n`);
  process.exit(1);
}, TOTAL_DEADLINE_MS);
total.unref();

// ---------------------------------------------------------------------------------------------
// printing

const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? a / b : NaN);
function pair(name: string, platform: number, reference: number, unit: string): void {
  print(`${name}: platform`, platform, unit);
  print(`${name}: reference`, reference, unit);
  print(`${name}: ratio platform/reference`, ratio(platform, reference), '×');
}
function errorsNote(who: string, r: LoadResult): void {
  for (const [why, n] of r.errors) note(`${who}: ${n} × ${why}`);
  if (r.tsExhausted > 0) note(`${who}: ${r.tsExhausted} devices used up their hour of timestamps and stopped early`);
}

// ---------------------------------------------------------------------------------------------
// the platform as a child process

interface PlatformChild {
  pid: number;
  httpUrl: string;
  mqttUrl: string;
  adminToken: string;
  metric(prefix: string): Promise<number>;
  /** VmHWM of the child, bytes */
  peakRss(): number;
  /**
   * What stalled the platform's event loop, from its own /metrics (prom-client's default
   * metrics), as seen by every scrape so far: the longest delay (each scrape resets it, so the
   * maximum over the scrapes) and the time in garbage collection by kind, in ms
   */
  stalls(): { loopMaxMs: number; gcMs: Record<string, number> };
  stop(): Promise<void>;
}

function procStatus(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

// Ctrl-C or a kill: exit through process.exit so the 'exit' handlers kill the children (servers, platform, load)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

/** config/rules.yaml with holdFall 0s on the crossing stations' flood rules (CROSSING_RULES), in `dir`. */
function benchRulesFile(dir: string): string {
  const doc = parseDocument(readFileSync(join(ROOT, 'config/rules.yaml'), 'utf8'));
  const rules = doc.get('rules') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
  for (const r of rules.items) if (CROSSING_RULES.includes(String(r.get('id')))) r.set('holdFall', '0s');
  const file = join(dir, 'bench-rules.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

async function startPlatform(storeEnv: Record<string, string>): Promise<PlatformChild> {
  const p = await startPlatformProcess({
    tmpPrefix: 'huewatch-bench-ingest-',
    env: (dataDir) => ({
      RULES_FILE: benchRulesFile(dataDir),
      // 100 devices at ~100 readings/s each measure capacity; the per-device quota would cap them (bench/flood-fairness.ts measures it)
      DEVICE_MAX_MSGS_PER_S: '0', DEVICE_MAX_BYTES_PER_S: '0',
      ...storeEnv,
    }),
    readyMs: READY_TIMEOUT_MS,
    stopWaitMs: 15_000,
  });
  let loopMaxMs = 0;
  const gcMs: Record<string, number> = {};
  return {
    pid: p.child.pid!,
    httpUrl: p.httpUrl,
    mqttUrl: p.mqttUrl,
    adminToken: p.adminToken,
    async metric(prefix) {
      const text = await (await fetch(`${p.httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      for (const l of text.split('\n')) {
        if (l.startsWith('nodejs_eventloop_lag_max_seconds ')) loopMaxMs = Math.max(loopMaxMs, 1000 * Number(l.split(' ').at(-1)));
        const gc = /^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)/.exec(l);
        if (gc) gcMs[gc[1]!] = 1000 * Number(gc[2]);
      }
      return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    },
    peakRss: () => procStatus(p.child.pid!, 'VmHWM'),
    stalls: () => ({ loopMaxMs, gcMs: { ...gcMs } }),
    stop: p.stop,
  };
}

async function register(p: PlatformChild, devices: Array<{ id: string; station: string }>): Promise<LoadDevice[]> {
  const out: LoadDevice[] = new Array(devices.length);
  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const i = next++;
      const d = devices[i]!;
      const res = await fetch(`${p.httpUrl}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: d.id, station: d.station }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { secret?: string; message?: string };
      if (res.status !== 201 || !body.secret) throw new Error(`registering ${d.id}: ${res.status} ${body.message ?? ''}`);
      out[i] = { id: d.id, secret: body.secret, station: d.station };
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}

const warmupDevices = () =>
  Array.from({ length: WARMUP_DEVICES }, (_, i) => ({ id: `bench-warm-${String(i).padStart(2, '0')}`, station: WARMUP_STATIONS[i % WARMUP_STATIONS.length]! }));

/**
 * Not measured: WARMUP_MS of the same shape of load from other devices at other stations, then
 * until `stored()` has them all. Returns the readings acknowledged (they stay in the counters).
 */
async function warmUp(url: string, devices: LoadDevice[], shape: LoadShape, name: StoreName, stored: () => Promise<number>): Promise<number> {
  if (WARMUP_MS <= 0) return 0;
  const r = await runLoadInChild({ url, devices, window: WINDOW, perMessage: shape.perMessage, rate: 0, durationMs: WARMUP_MS, drainMs: DRAIN_MS, ...tsWindow(name, false) });
  const until = performance.now() + DRAIN_MS;
  let got = 0;
  while ((got = await stored().catch(() => 0)) < r.readingsAcked && performance.now() < until) await sleep(100);
  if (got < r.readingsAcked) note(`warm-up: ${r.readingsAcked - got} of its ${r.readingsAcked} readings still unstored after ${DRAIN_MS / 1000} s; the run starts on that backlog`);
  return r.readingsAcked;
}

const loadDevices = (tag: string) =>
  Array.from({ length: DEVICES }, (_, i) => ({ id: `bench-${tag}-${String(i).padStart(3, '0')}`, station: LOAD_STATIONS[i % LOAD_STATIONS.length]! }));

// ---------------------------------------------------------------------------------------------
// one measured run

interface RunResult {
  load: LoadResult;
  stored: number;
  /** readings/s */
  rate: number;
  lost: number;
  peakRss: number;
  /** counted straight in the store, where the bench can (InfluxDB) */
  inStore?: number;
  /** the stored count was still growing at the cut-off: the difference is a backlog, not (yet) a loss */
  draining: boolean;
  /** the platform's event-loop stalls over the run (PlatformChild.stalls) */
  stalls?: ReturnType<PlatformChild['stalls']>;
}

/**
 * Polls `stored()` from the load's start until it reaches the acknowledged count, or DRAIN_MS
 * after the load ended (its last PUBACK), or the run's deadline. Returns what was stored, the time
 * from the load's start to the last growth of the count, and whether it was still growing at the
 * cut-off (a backlog still draining: behind mosquitto, whose PUBACK means "received", not "stored").
 */
async function trackStored(stored: () => Promise<number>, loadDone: Promise<LoadResult>, startedAt: () => number): Promise<{ load: LoadResult; stored: number; seconds: number; draining: boolean }> {
  let last = 0;
  let lastChange = performance.now();
  let load: LoadResult | undefined;
  let loadEnd = Number.POSITIVE_INFINITY;
  void loadDone.then((l) => {
    load = l;
    loadEnd = performance.now();
  }, () => undefined);
  const deadline = performance.now() + RUN_DEADLINE_MS;
  let draining = false;
  for (;;) {
    await sleep(POLL_MS);
    const now = performance.now();
    const s = await stored().catch(() => last);
    const grew = s !== last;
    if (grew) {
      last = s;
      lastChange = now;
    }
    if (load && last >= load.readingsAcked) break;
    if (now - loadEnd > DRAIN_MS || now > deadline) {
      draining = grew;
      break;
    }
  }
  const l = load ?? (await loadDone);
  return { load: l, stored: last, seconds: (lastChange - startedAt()) / 1000, draining };
}

type StoreName = 'embedded' | 'influxd' | 'victoria';

interface Servers {
  influxd?: RestartableServer;
  shim?: WriteShim;
  victoria?: RunningServer;
  dbs: number;
}

/** A fresh database of the store for one run: the platform's env, the reference's store, a counter. */
async function freshStore(name: StoreName, s: Servers, tmp: string): Promise<{ env: Record<string, string>; ref: StoreKind; count?: () => Promise<number> }> {
  const db = `bench_${++s.dbs}`;
  if (name === 'embedded') return { env: { STORE: 'embedded' }, ref: { kind: 'embedded', file: join(tmp, `${db}.duckdb`) } };
  if (name === 'influxd') {
    await influxql(s.influxd!.url, `CREATE DATABASE "${db}"`);
    const url = s.influxd!.url;
    return {
      env: { STORE: 'influx', INFLUX_URL: s.shim!.url, INFLUX_BUCKET: db },
      ref: { kind: 'influx', url: s.shim!.url, bucket: db },
      count: async () => {
        const body = await influxql(url, 'SELECT count("water_level") FROM "hydro"', { db });
        return Number(body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
      },
    };
  }
  // VictoriaMetrics ignores the bucket: every run adds to one database, so the runs' stations are
  // told apart only by their times (each run has its own hour of timestamps: see t0 below)
  return { env: { STORE: 'influx', INFLUX_URL: s.victoria!.url, INFLUX_BUCKET: db }, ref: { kind: 'influx', url: s.victoria!.url, bucket: db } };
}

/**
 * Timestamps of a run: the last hour (a fresh database per run), except on VictoriaMetrics, which
 * ignores the bucket and so keeps every run in one database: there run k gets the hour k hours
 * before that, so no run overwrites another's readings (the crossings are observed now, at
 * stations the load never uses).
 */
let victoriaRuns = 0;
function tsWindow(name: StoreName, advance = true): { t0: number; tsEnd: number } {
  const back = name === 'victoria' ? (advance ? victoriaRuns++ : victoriaRuns) : 0;
  const tsEnd = Date.now() - 10_000 - back * 3_600_000;
  return { t0: tsEnd - 3_600_000, tsEnd };
}

interface LoadShape {
  perMessage: number;
  rate: number;
}

/** something running beside the load (the crossing devices): its readings are counted apart */
interface Extra {
  finish(): Promise<void>;
  /** readings of its own acknowledged so far */
  readings(): number;
}

async function platformRun(name: StoreName, s: Servers, tmp: string, shape: LoadShape, extra?: (p: PlatformChild) => Promise<Extra>): Promise<RunResult> {
  const store = await freshStore(name, s, tmp);
  const p = await startPlatform(store.env);
  try {
    const devices = await register(p, loadDevices('load'));
    const storedNow = () => p.metric('huewatch_ingest_readings_stored_total');
    // the warm-up's readings are taken off by count (its backlog may still be draining)
    const warm = await warmUp(p.mqttUrl, await register(p, warmupDevices()), shape, name, storedNow);
    const base = warm;
    const ex = extra ? await extra(p) : undefined;
    const extraReadings = () => base + (ex?.readings() ?? 0);
    let started = 0;
    const loadDone = runLoadInChild({ url: p.mqttUrl, devices, window: WINDOW, perMessage: shape.perMessage, rate: shape.rate, durationMs: DURATION_MS, drainMs: DRAIN_MS, ...tsWindow(name) }, () => void (started = performance.now()));
    // the crossing devices' readings (2 per crossing) are counted apart
    const t = await trackStored(async () => (await storedNow()) - extraReadings(), loadDone, () => started);
    await ex?.finish();
    const spooled = await p.metric('huewatch_store_written_readings_total{path="spool"}').catch(() => 0);
    if (spooled > 0) note(`platform on ${name}: ${spooled} readings went to the on-disk spool (store slower than SPOOL_WRITE_TIMEOUT_MS or down)`);
    const inStore = store.count ? await store.count().then((n) => n - warm - (ex?.readings() ?? 0), () => undefined) : undefined;
    return { load: t.load, stored: t.stored, rate: t.stored / t.seconds, lost: t.load.readingsAcked - t.stored, draining: t.draining, peakRss: p.peakRss(), stalls: p.stalls(), ...(inStore === undefined ? {} : { inStore }) };
  } finally {
    await p.stop();
  }
}

async function referenceRun(name: StoreName, s: Servers, tmp: string, shape: LoadShape, extra?: (brokerUrl: string) => Promise<Extra>, alarms?: ReadonlyMap<string, number>): Promise<RunResult> {
  const store = await freshStore(name, s, tmp);
  const m = await startMosquitto();
  const ts = await openStore(store.ref);
  const devices: LoadDevice[] = loadDevices('load');
  const stationOf = new Map<string, string>(devices.map((d) => [d.id, d.station]));
  for (const a of ALARM3) stationOf.set(`bench-cross-${a.station}`, a.station);
  const warmDevices: LoadDevice[] = warmupDevices();
  for (const d of warmDevices) stationOf.set(d.id, d.station);
  const ingest = await startReferenceIngest(m.url, ts, (id) => stationOf.get(id), alarms);
  try {
    const warm = await warmUp(m.url, warmDevices, shape, name, async () => ingest.stored);
    const base = warm;
    const ex = extra ? await extra(m.url) : undefined;
    let started = 0;
    const loadDone = runLoadInChild({ url: m.url, devices, window: WINDOW, perMessage: shape.perMessage, rate: shape.rate, durationMs: DURATION_MS, drainMs: DRAIN_MS, ...tsWindow(name) }, () => void (started = performance.now()));
    const t = await trackStored(async () => ingest.stored - base - (ex?.readings() ?? 0), loadDone, () => started);
    await ex?.finish();
    if (ingest.dropped > 0) note(`reference: ${ingest.dropped} messages failed decoding`);
    if (ingest.writeErrors > 0) note(`reference: ${ingest.writeErrors} writes failed (retried)`);
    const inStore = store.count ? await store.count().then((n) => n - warm - (ex?.readings() ?? 0), () => undefined) : undefined;
    return { load: t.load, stored: t.stored, rate: t.stored / t.seconds, lost: t.load.readingsAcked - t.stored, draining: t.draining, peakRss: procStatus(m.pid, 'VmHWM'), ...(inStore === undefined ? {} : { inStore }) };
  } finally {
    await ingest.close();
    await ts.close().catch(() => undefined);
    await m.stop();
  }
}

function reportRun(label: string, pl: RunResult, ref: RunResult, what: { peak?: { platform: number; reference: number } } = {}): void {
  note(`${label}: platform ${pl.load.readingsAcked} readings acknowledged of ${pl.load.readingsSent} sent in ${pl.load.seconds.toFixed(1)} s; reference ${ref.load.readingsAcked} of ${ref.load.readingsSent}`);
  errorsNote(`${label} platform`, pl.load);
  errorsNote(`${label} reference`, ref.load);
  pair(`${label}, stored`, pl.rate, ref.rate, 'readings/s');
  pair(`${label}, publish→PUBACK p50`, pl.load.latency.p50, ref.load.latency.p50, 'ms');
  pair(`${label}, publish→PUBACK p99`, pl.load.latency.p99, ref.load.latency.p99, 'ms');
  for (const [who, r] of [['platform', pl], ['reference', ref]] as const) {
    if (r.draining) {
      note(`${label} ${who}: still storing ${DRAIN_MS / 1000} s after the last PUBACK: ${r.lost} readings acknowledged and not stored yet at the cut-off (a backlog, not counted as lost)`);
      print(`${label}, backlog at the cut-off (acked − stored): ${who}`, r.lost, 'readings');
    } else print(`${label}, lost (acked − stored): ${who}`, r.lost, 'readings');
  }
  if (pl.inStore !== undefined) print(`${label}, counted in the store: platform`, pl.inStore, 'readings');
  if (ref.inStore !== undefined) print(`${label}, counted in the store: reference`, ref.inStore, 'readings');
  if (what.peak) {
    pair(`${label}, stored as % of peak`, (100 * pl.rate) / what.peak.platform, (100 * ref.rate) / what.peak.reference, '%');
    print(`${label}, peak RSS: platform process (VmHWM)`, pl.peakRss / 1e6, 'MB');
    print(`${label}, peak RSS: mosquitto (reference ingest runs in the bench)`, ref.peakRss / 1e6, 'MB');
  }
}

// ---------------------------------------------------------------------------------------------
// alert latency

interface CrossingResult {
  latency: Percentiles;
  /** device publish → the reading's observation (`huewatch/v1/obs/{station}`) at the resident */
  obsLatency: Percentiles;
  published: number;
  missed: number;
}

interface Crossings {
  /** starts the crossing devices; `stop` waits for them and gives the latencies */
  start(): Promise<{ readings(): number; stop(): Promise<CrossingResult> }>;
}

/**
 * Two devices (Kim Long, Phú Ốc) each publish CROSSINGS/2 cycles during the load, spaced evenly over
 * its duration: a reading above alarm level 3 observed now, then one below (ends the alert:
 * holdFall 0s in the bench's rules, CROSSING_RULES).
 */
function crossings(brokerUrl: string, residentUrl: string, devices: LoadDevice[]): Crossings {
  return {
    async start() {
      const resident: MqttClient = await mqtt.connectAsync(residentUrl, { protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 });
      (resident.stream as unknown as Socket).setNoDelay?.(true);
      const sentAt = new Map<string, number>();
      const obsSentAt = new Map<string, number>();
      const latency: number[] = [];
      const obsLatency: number[] = [];
      resident.on('message', (topic, payload) => {
        const now = performance.now();
        if (topic.startsWith('huewatch/v1/obs/')) {
          try {
            const o = JSON.parse(payload.toString()) as { station?: string; ts?: number };
            const key = `${o.station}|${o.ts}`;
            const t = obsSentAt.get(key);
            if (t !== undefined) {
              obsLatency.push(now - t);
              obsSentAt.delete(key);
            }
          } catch {
            /* not ours */
          }
          return;
        }
        let ev: { level?: number; source?: { observedAt?: string } };
        try {
          ev = JSON.parse(payload.toString());
        } catch {
          return;
        }
        const area = topic.split('/')[3];
        const key = `${area}|${ev.source?.observedAt}`;
        const t = sentAt.get(key);
        if (ev.level === 3 && t !== undefined) {
          latency.push(now - t);
          sentAt.delete(key);
        }
      });
      await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
      await resident.subscribeAsync(ALARM3.map((a) => `huewatch/v1/obs/${a.station}`), { qos: 1 });
      const clients = await connectAll(devices, (d) => connectDevice(brokerUrl, d));
      const perDevice = Math.ceil(CROSSINGS / devices.length);
      const gap = DURATION_MS / (perDevice + 1);
      let published = 0;
      let acked = 0;
      let stop = false;
      const loops = clients.map(async (c, i) => {
        const d = devices[i]!;
        const level3 = ALARM3.find((a) => a.station === d.station)!.level3;
        const topic = `huewatch/v1/telemetry/${d.id}`;
        for (let k = 0; k < perDevice && !stop; k++) {
          await sleep(gap);
          if (stop) break;
          // observed now: above level 3, then back below a millisecond later (holdFall 0s here)
          const ts = Date.now();
          const readings: Array<[number, number]> = [[ts, level3 + 0.1], [ts + 1, 0.5]];
          for (const [j, [t, v]] of readings.entries()) {
            const at = performance.now();
            if (j === 0) sentAt.set(`${d.station}|${new Date(t).toISOString()}`, at);
            obsSentAt.set(`${d.station}|${t}`, at);
            if (j === 0) published++;
            await c.publishAsync(topic, JSON.stringify({ ts: t, seq: 2 * k + j, m: { water_level: v } }), { qos: 1 });
            acked++;
          }
        }
      });
      const finish = async (): Promise<CrossingResult> => {
        await Promise.race([Promise.all(loops), sleep(DURATION_MS + 30_000)]);
        stop = true;
        // the last alerts may still be on their way
        const until = performance.now() + 15_000;
        while ((sentAt.size > 0 || obsSentAt.size > 0) && performance.now() < until) await sleep(100);
        await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
        await resident.endAsync(true).catch(() => undefined);
        return { latency: percentiles(latency), obsLatency: percentiles(obsLatency), published, missed: sentAt.size };
      };
      return { readings: () => acked, stop: finish };
    },
  };
}

const crossDevices = () => ALARM3.map((a) => ({ id: `bench-cross-${a.station}`, station: a.station }));

async function alertRuns(s: Servers, tmp: string, label: string, shape: LoadShape): Promise<void> {
  let pl: CrossingResult | undefined;
  let rf: CrossingResult | undefined;
  const plRun = await platformRun('embedded', s, tmp, shape, async (p) => {
    const devs = await register(p, crossDevices());
    const c = await crossings(p.mqttUrl, p.mqttUrl, devs).start();
    return { readings: c.readings, finish: async () => void (pl = await c.stop()) };
  });
  const alarms = new Map(ALARM3.map((a) => [a.station, a.level3]));
  const refRun = await referenceRun('embedded', s, tmp, shape, async (url) => {
    const c = await crossings(url, url, crossDevices()).start();
    return { readings: c.readings, finish: async () => void (rf = await c.stop()) };
  }, alarms);
  note(`${label}: load stored ${plRun.rate.toFixed(0)} readings/s on the platform, ${refRun.rate.toFixed(0)} on the reference; lost ${plRun.lost} / ${refRun.lost}`);
  note(`${label}: crossings published ${pl?.published} / ${rf?.published}; alerts not received ${pl?.missed} / ${rf?.missed} (platform / reference)`);
  pair(`${label}, device publish → resident alert p50`, pl?.latency.p50 ?? NaN, rf?.latency.p50 ?? NaN, 'ms');
  pair(`${label}, device publish → resident alert p99`, pl?.latency.p99 ?? NaN, rf?.latency.p99 ?? NaN, 'ms');
  pair(`${label}, device publish → resident observation p50`, pl?.obsLatency.p50 ?? NaN, rf?.obsLatency.p50 ?? NaN, 'ms');
  pair(`${label}, device publish → resident observation p99`, pl?.obsLatency.p99 ?? NaN, rf?.obsLatency.p99 ?? NaN, 'ms');
  if (plRun.stalls) {
    print(`${label}, platform event loop: longest delay seen`, plRun.stalls.loopMaxMs, 'ms');
    for (const [kind, ms] of Object.entries(plRun.stalls.gcMs)) print(`${label}, platform garbage collection, ${kind} (whole life of the process)`, ms, 'ms');
  }
  print(`${label}, alerts received: platform`, pl?.latency.count ?? 0, 'alerts');
  print(`${label}, alerts received: reference`, rf?.latency.count ?? 0, 'alerts');
}

// ---------------------------------------------------------------------------------------------

const tmp = await mkdtemp(join(tmpdir(), 'huewatch-bench-ref-'));
const servers: Servers = { dbs: 0 };
try {
  if (STORES.has('influxd')) {
    servers.influxd = await startInfluxd();
    servers.shim = await startV2WriteShim(servers.influxd.url);
  }
  if (STORES.has('victoria')) servers.victoria = await startVictoria();
  note(`${DEVICES} devices, QoS 1, window ${WINDOW}, ${seconds} s per run; platform = node bin/huewatch.js start (child), reference = mosquitto + minimal MQTT.js ingest (this process)`);
  {
    // what the devices can send at all: the same load against mosquitto with nobody subscribed
    // (PUBACK on receipt, nothing stored). A figure near this one was set by the load, not the receiver.
    const m = await startMosquitto();
    try {
      const r = await runLoadInChild({ url: m.url, devices: loadDevices('ceiling'), window: WINDOW, perMessage: 1, rate: 0, durationMs: Math.min(DURATION_MS, 10_000), drainMs: DRAIN_MS });
      errorsNote('load ceiling', r);
      print('load ceiling: 1/msg to mosquitto, no subscriber, acknowledged', r.readingsAcked / r.secondsToLastAck, 'readings/s');
      print('load ceiling: publish→PUBACK p99', r.latency.p99, 'ms');
    } finally {
      await m.stop();
    }
  }
  const storeLabel: Record<StoreName, string> = { embedded: 'embedded DuckDB', influxd: 'InfluxDB 1.6.7', victoria: 'VictoriaMetrics 1.79' };
  for (const name of ['embedded', 'influxd', 'victoria'] as const) {
    if (!STORES.has(name)) continue;
    let peak: { platform: number; reference: number } | undefined;
    if (RUNS.has('single') || RUNS.has('overload')) {
      const shape = { perMessage: 1, rate: 0 };
      const pl = await platformRun(name, servers, tmp, shape);
      const ref = await referenceRun(name, servers, tmp, shape);
      reportRun(`1/msg, ${storeLabel[name]}`, pl, ref);
      peak = { platform: pl.rate, reference: ref.rate };
    }
    if (RUNS.has('sf')) {
      const shape = { perMessage: SF_READINGS, rate: 0 };
      const pl = await platformRun(name, servers, tmp, shape);
      const ref = await referenceRun(name, servers, tmp, shape);
      reportRun(`${SF_READINGS}/msg, ${storeLabel[name]}`, pl, ref);
    }
    if (RUNS.has('overload') && peak) {
      // each side is offered twice its own peak (offering the reference twice the platform's could leave it unloaded)
      const pl = await platformRun(name, servers, tmp, { perMessage: 1, rate: 2 * peak.platform });
      const ref = await referenceRun(name, servers, tmp, { perMessage: 1, rate: 2 * peak.reference });
      note(`overload, ${storeLabel[name]}: offered ${(2 * peak.platform).toFixed(0)} readings/s to the platform, ${(2 * peak.reference).toFixed(0)} to the reference`);
      reportRun(`2× peak, ${storeLabel[name]}`, pl, ref, { peak });
    }
  }
  if (RUNS.has('alerts') && STORES.has('embedded')) {
    await alertRuns(servers, tmp, 'alerts under burst, embedded', { perMessage: 1, rate: 0 });
    await alertRuns(servers, tmp, `alerts at ${STEADY_RATE}/s, embedded`, { perMessage: 1, rate: STEADY_RATE });
  }
} finally {
  await servers.shim?.stop();
  await servers.influxd?.stop();
  await servers.victoria?.stop();
  await rm(tmp, { recursive: true, force: true });
  clearTimeout(total);
}
