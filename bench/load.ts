/**
 * Load generator for the ingest benches (bench/ingest.ts, bench/reference.ts): N devices as real
 * MQTT.js clients (username = client id = device id, password = its secret), QoS 1, at most
 * `window` messages awaiting their PUBACK per device (the next goes when a PUBACK comes), Nagle off
 * on every socket (FACTS.md).
 *
 * Payload: one reading per message `{"ts":…,"seq":n,"m":{"water_level":v}}`, or a store-and-forward
 * array of `perMessage` readings. Every reading of a run has its own (station, ts): the stores keep
 * one row per (station, metric, ts) (idempotent writes), so devices sharing a station interleave
 * their times: the k-th of m devices of a station writes ts = t0 + seq·m + k, seq = 0, 1, 2, …
 * (distinct, rising by m ms). t0 defaults to one hour ago, so every reading is inside the last hour
 * and no age or future bound refuses it; a device stops (and says so) before its ts would reach
 * `now - TS_MARGIN_MS`.
 *
 * Bounded in count AND time: `durationMs` of publishing (then at most `drainMs` for the last
 * PUBACKs), `maxMessages` in all, and the ts budget above. `rate` (readings/s over all devices,
 * 0 = as fast as PUBACKs allow) spaces each device's messages evenly; a device whose window is full
 * waits (backpressure), so the offered rate is an upper bound of what is sent.
 */
import { fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';

export interface LoadDevice {
  id: string;
  /** the device's secret; absent for a broker without authentication */
  secret?: string;
  /** station the device is registered to: devices of one station share its ts space */
  station: string;
  /** its place in the station's ts space (k of m); computed from `devices` when absent */
  slot?: number;
  stride?: number;
}

export interface LoadOptions {
  url: string;
  devices: readonly LoadDevice[];
  /** QoS 1 messages awaiting their PUBACK per device */
  window: number;
  /** readings per message: 1 = one reading object, >1 = a store-and-forward array */
  perMessage: number;
  /** readings/s over all devices; 0 = as fast as acknowledgements allow */
  rate: number;
  durationMs: number;
  /** after the publishing time, how long to wait for outstanding PUBACKs */
  drainMs?: number;
  /** messages over all devices; default unbounded apart from the ts budget */
  maxMessages?: number;
  /** epoch ms of seq 0; default now - 1 h */
  t0?: number;
  /** no reading's ts reaches this (epoch ms); default now - TS_MARGIN_MS, checked at each publish */
  tsEnd?: number;
  /** called once all devices are connected, just before the clock starts */
  onStart?: () => void;
}

export interface LoadResult {
  devices: number;
  /** messages published / acknowledged */
  sent: number;
  acked: number;
  readingsSent: number;
  readingsAcked: number;
  /** publishing time: first publish → end of publishing (s) */
  seconds: number;
  /** first publish → last PUBACK (s) */
  secondsToLastAck: number;
  /** publish → PUBACK, ms */
  latency: Percentiles;
  /** publish errors (e.g. connection closed), by message */
  errors: Map<string, number>;
  /** devices that stopped early because their ts budget ran out */
  tsExhausted: number;
  /** publish → PUBACK latencies, sorted, every k-th (at most SAMPLE) */
  sample?: number[];
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** ts never comes closer to now than this (clock-skew bounds refuse readings in the future) */
const TS_MARGIN_MS = 5_000;
const CONNECT_TIMEOUT_MS = 10_000;
const CONNECT_CONCURRENCY = 20;
const DEFAULT_DRAIN_MS = 30_000;

export function percentiles(values: ArrayLike<number>): Percentiles {
  const a = Float64Array.from(values).sort();
  const at = (p: number) => (a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))]!);
  return { count: a.length, p50: at(50), p99: at(99), max: a.length === 0 ? NaN : a[a.length - 1]! };
}

function sortedSample(values: number[]): number[] {
  const a = Float64Array.from(values).sort();
  const step = Math.max(1, Math.ceil(a.length / SAMPLE));
  const out: number[] = [];
  for (let i = 0; i < a.length; i += step) out.push(a[i]!);
  return out;
}

/** Connects one MQTT.js device client (3.1.1, clean session, no reconnects) with Nagle off. */
export async function connectDevice(url: string, d: { id: string; secret?: string }): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: d.id,
    ...(d.secret === undefined ? {} : { username: d.id, password: d.secret }),
    reconnectPeriod: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    keepalive: 60,
  });
  (c.stream as unknown as Socket).setNoDelay?.(true);
  return c;
}

/** Connects many clients, at most CONNECT_CONCURRENCY at once; on failure closes those connected. */
export async function connectAll<T>(items: readonly T[], connect: (item: T) => Promise<MqttClient>): Promise<MqttClient[]> {
  const out: MqttClient[] = new Array(items.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      try {
        out[i] = await connect(items[i]!);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, items.length) }, worker));
  if (failure !== undefined) {
    await Promise.all(out.filter(Boolean).map((c) => c.endAsync(true).catch(() => undefined)));
    throw failure;
  }
  return out;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (o.window < 1 || o.perMessage < 1 || o.perMessage > 1000) throw new Error('load: window ≥ 1, perMessage 1..1000');
  const t0 = o.t0 ?? Date.now() - 3_600_000;
  // k-th of m devices of each station
  const perStation = new Map<string, number>();
  const slot = o.devices.map((d) => {
    const k = perStation.get(d.station) ?? 0;
    perStation.set(d.station, k + 1);
    return d.slot ?? k;
  });
  const stride = o.devices.map((d) => d.stride ?? perStation.get(d.station)!);
  const clients = await connectAll(o.devices, (d) => connectDevice(o.url, d));
  // flat, below every alarm level
  const value = (i: number, seq: number) => 0.5 + ((i + seq) % 50) / 1000;
  const maxMessages = o.maxMessages ?? Number.POSITIVE_INFINITY;
  const drainMs = o.drainMs ?? DEFAULT_DRAIN_MS;

  const lat: number[] = [];
  const errors = new Map<string, number>();
  let sent = 0;
  let acked = 0;
  let readingsSent = 0;
  let readingsAcked = 0;
  let lastAck = 0;
  let tsExhausted = 0;
  const inflight = new Int32Array(clients.length);
  const nextSeq = new Float64Array(clients.length);
  const messagesOf = new Float64Array(clients.length);
  const exhausted = new Uint8Array(clients.length);
  /** per device: ms between its messages when rate-limited */
  const gapMs = o.rate > 0 ? (1000 * o.perMessage * clients.length) / o.rate : 0;
  let publishing = true;
  let onIdle: (() => void) | undefined;

  o.onStart?.();
  const start = performance.now();
  const endAt = start + o.durationMs;

  const payloadOf = (i: number, first: number, n: number): string => {
    const one = (seq: number) => `{"ts":${t0 + seq * stride[i]! + slot[i]!},"seq":${seq},"m":{"water_level":${value(i, seq)}}}`;
    if (n === 1 && o.perMessage === 1) return one(first);
    const parts: string[] = new Array(n);
    for (let k = 0; k < n; k++) parts[k] = one(first + k);
    return `[${parts.join(',')}]`;
  };

  const pump = (i: number): void => {
    const c = clients[i]!;
    while (publishing && inflight[i]! < o.window && sent < maxMessages && !exhausted[i]) {
      const now = performance.now();
      if (now >= endAt) {
        publishing = false;
        break;
      }
      if (gapMs > 0 && start + messagesOf[i]! * gapMs > now) break; // not due yet: the ticker comes back
      const first = nextSeq[i]!;
      // the last reading of this message must stay TS_MARGIN_MS in the past
      if (t0 + (first + o.perMessage) * stride[i]! + slot[i]! > Math.min(o.tsEnd ?? Infinity, Date.now() - TS_MARGIN_MS)) {
        exhausted[i] = 1;
        tsExhausted++;
        break;
      }
      nextSeq[i] = first + o.perMessage;
      messagesOf[i] = messagesOf[i]! + 1;
      inflight[i] = inflight[i]! + 1;
      sent++;
      readingsSent += o.perMessage;
      const t = performance.now();
      c.publish(`huewatch/v1/telemetry/${o.devices[i]!.id}`, payloadOf(i, first, o.perMessage), { qos: 1 }, (err) => {
        inflight[i] = inflight[i]! - 1;
        if (err) {
          const key = err.message;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        } else {
          const now2 = performance.now();
          lat.push(now2 - t);
          acked++;
          readingsAcked += o.perMessage;
          lastAck = now2;
        }
        if (publishing) pump(i);
        else if (onIdle && inflight.every((x) => x === 0)) onIdle();
      });
    }
  };

  // a rate-limited run needs a ticker to send what has come due; so does the end of the publishing time
  const ticker = setInterval(() => {
    if (performance.now() >= endAt) publishing = false;
    if (publishing) for (let i = 0; i < clients.length; i++) pump(i);
  }, gapMs > 0 ? Math.max(1, Math.min(10, gapMs / 4)) : 50);
  try {
    for (let i = 0; i < clients.length; i++) pump(i);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        const allStopped = !publishing || sent >= maxMessages || exhausted.every((x) => x === 1);
        if (allStopped) {
          publishing = false;
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    const published = performance.now();
    // drain: wait for outstanding PUBACKs, bounded
    if (!inflight.every((x) => x === 0)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const left = inflight.reduce((a, b) => a + b, 0);
    if (left > 0) errors.set(`no PUBACK within ${drainMs / 1000} s of the end`, left);
    return {
      devices: clients.length,
      sent,
      acked,
      readingsSent,
      readingsAcked,
      seconds: (published - start) / 1000,
      secondsToLastAck: ((lastAck || published) - start) / 1000,
      latency: percentiles(lat),
      errors,
      tsExhausted,
      sample: sortedSample(lat),
    };
  } finally {
    clearInterval(ticker);
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

// ---------------------------------------------------------------------------------------------
// In a child process: the devices get an event loop (and a core) of their own, so what is measured
// on the receiving side (the reference ingest runs in the bench process) does not slow them, and
// publish → PUBACK is not stretched by the receiver's work.

type ChildResult = Omit<LoadResult, 'errors'> & { errors: Array<[string, number]>; sample: number[] };
type FromLoadChild = { type: 'started' } | { type: 'result'; result: ChildResult } | { type: 'error'; message: string };
/** latencies a child sends back: every k-th of the sorted list, so percentiles survive the merge */
const SAMPLE = 100_000;

/**
 * runLoad in `procs` child processes (default env BENCH_LOAD_PROCS or 1), the devices split
 * between them (their ts slots are fixed here first, so no two children share a slot);
 * `onStart` is called when the first child's clock starts. Latency percentiles of a split run are
 * taken from a sorted sample of at most SAMPLE per child.
 */
export async function runLoadInChild(o: Omit<LoadOptions, 'onStart'>, onStart?: () => void, procs = Number(process.env.BENCH_LOAD_PROCS ?? 1)): Promise<LoadResult> {
  const perStation = new Map<string, number>();
  const placed = o.devices.map((d) => {
    const k = perStation.get(d.station) ?? 0;
    perStation.set(d.station, k + 1);
    return { ...d, slot: k };
  }).map((d) => ({ ...d, stride: perStation.get(d.station)! }));
  const n = Math.max(1, Math.min(Number.isInteger(procs) ? procs : 1, 16, placed.length));
  let started = false;
  const parts = await Promise.all(Array.from({ length: n }, (_, k) => oneChild(
    { ...o, devices: placed.filter((_, i) => i % n === k), ...(o.maxMessages === undefined ? {} : { maxMessages: Math.ceil(o.maxMessages / n) }) },
    () => {
      if (!started) onStart?.();
      started = true;
    },
  )));
  const errors = new Map<string, number>();
  for (const r of parts) for (const [why, c] of r.errors) errors.set(why, (errors.get(why) ?? 0) + c);
  const sum = (f: (r: ChildResult) => number) => parts.reduce((a, r) => a + f(r), 0);
  return {
    devices: sum((r) => r.devices),
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    readingsSent: sum((r) => r.readingsSent),
    readingsAcked: sum((r) => r.readingsAcked),
    seconds: Math.max(...parts.map((r) => r.seconds)),
    secondsToLastAck: Math.max(...parts.map((r) => r.secondsToLastAck)),
    latency: n === 1 ? parts[0]!.latency : percentiles(parts.flatMap((r) => r.sample ?? [])),
    errors,
    tsExhausted: sum((r) => r.tsExhausted),
  };
}

function oneChild(o: Omit<LoadOptions, 'onStart'>, onStart?: () => void): Promise<ChildResult> {
  const child = fork(fileURLToPath(import.meta.url), ['--load-child'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const limitMs = o.durationMs + (o.drainMs ?? DEFAULT_DRAIN_MS) + 120_000;
  return new Promise<ChildResult>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`load child: no result within ${limitMs / 1000} s`)), limitMs);
    const onExit = (code: number | null) => done(new Error(`load child exited (${code}) without a result`));
    function done(err?: Error, r?: ChildResult) {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (err) reject(err);
      else resolve(r!);
    }
    child.on('message', (raw: unknown) => {
      const m = raw as FromLoadChild;
      if (m.type === 'started') onStart?.();
      else if (m.type === 'error') done(new Error(`load child: ${m.message}`));
      else if (m.type === 'result') done(undefined, m.result);
    });
    child.on('exit', onExit);
    // our own child, by its handle: never outlive the bench
    const killer = () => child.kill('SIGKILL');
    process.once('exit', killer);
    child.once('exit', () => process.off('exit', killer));
    child.send(o);
  });
}

if (process.argv[2] === '--load-child') {
  process.on('disconnect', () => process.exit(0));
  process.once('message', (raw: unknown) => {
    const o = raw as LoadOptions;
    runLoad({ ...o, onStart: () => process.send?.({ type: 'started' } satisfies FromLoadChild) }).then(
      (r) => process.send?.({ type: 'result', result: { ...r, errors: [...r.errors], sample: r.sample ?? [] } } satisfies FromLoadChild, () => process.exit(0)),
      (err: Error) => process.send?.({ type: 'error', message: err.message } satisfies FromLoadChild, () => process.exit(1)),
    );
  });
}
