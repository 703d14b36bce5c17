/**
 * The reference pipeline the ingest figures are compared with (bench/ingest.ts): Debian `mosquitto`
 * as a child on an ephemeral loopback port (generated config in a temp dir: anonymous, no
 * persistence, in-flight and queue limits lifted so it drops nothing, TCP no-delay), and a minimal
 * MQTT.js ingest in this process: subscribe `huewatch/v1/telemetry/+` at QoS 1, decode and validate
 * with the project's `decodeTelemetry`, normalise with `normaliseReading`, and write with group
 * commit (one write in flight; the next batch gathers meanwhile) to the same kind of store the
 * platform uses (embedded DuckDB, InfluxDB 1.6.7 through the test shim, VictoriaMetrics).
 *
 * The minimal ingest acknowledges a message to mosquitto when it takes it (MQTT.js's default),
 * except that past HIGH_WATER rows waiting it holds the acknowledgement until the writer has caught
 * up, so its memory stays bounded and mosquitto keeps the rest. Devices get their PUBACK from
 * mosquitto on receipt, as they would from any broker in front of an ingest.
 *
 * Also used by bench/fanout-compare.ts for mosquitto's fan-out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeTelemetry } from '../contract/telemetry.ts';
import { normaliseReading } from '../ingest/normalise.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { openInfluxStore } from '../store/influx.ts';
import { freePort, superviseChild } from '../store/test-servers.ts';
import type { StoredReading, TimeSeriesStore } from '../store/types.ts';

export interface Mosquitto {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/** Debian mosquitto on 127.0.0.1:<free port>, config and nothing else in a temp dir. */
export async function startMosquitto(): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'huewatch-mosquitto-'));
  const port = await freePort();
  const conf = `
listener ${port} 127.0.0.1
allow_anonymous true
persistence false
# lift the per-client limits so nothing is dropped (0 = no maximum)
max_inflight_messages 0
max_queued_messages 0
max_queued_bytes 0
max_connections -1
set_tcp_nodelay true
log_dest stderr
log_type error
# started as root it would switch to the mosquitto user, who cannot read this temp dir
user root
`;
  await writeFile(join(dir, 'mosquitto.conf'), conf);
  const child: ChildProcess = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const { stderr, stop } = superviseChild(child, dir);
  const url = `mqtt://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1000 }).catch(() => undefined);
    if (c) {
      await c.endAsync(true);
      return { url, pid: child.pid!, stop };
    }
    await sleep(50);
  }
  await stop();
  throw new Error(`mosquitto did not accept connections on ${url} within ${READY_TIMEOUT_MS} ms: ${stderr()}`);
}

export type StoreKind =
  | { kind: 'embedded'; file: string }
  | { kind: 'influx'; url: string; bucket: string };

export async function openStore(s: StoreKind): Promise<TimeSeriesStore> {
  const log = silentLogger();
  return s.kind === 'embedded' ? openEmbeddedStore({ file: s.file, log }) : openInfluxStore({ url: s.url, org: 'huewatch', bucket: s.bucket, log });
}

/** rows per write (the InfluxDB adapter splits them into its own 5,000-line batches) */
const MAX_BATCH = 10_000;
/** rows waiting beyond this: hold the acknowledgement to mosquitto until the writer catches up */
const HIGH_WATER = 100_000;

export interface ReferenceIngest {
  /** readings written */
  readonly stored: number;
  readonly dropped: number;
  readonly writeErrors: number;
  readonly pending: number;
  /** resolves when `stored` reaches `n` or at `timeoutMs`; returns stored */
  waitStored(n: number, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The minimal ingest: `station` maps a device id to its station (the platform looks it up in its
 * device registry; the reference is handed the map).
 */
export async function startReferenceIngest(
  brokerUrl: string,
  store: TimeSeriesStore,
  station: (deviceId: string) => string | undefined,
  /**
   * a minimal level rule: station → alarm value; once a batch is written, each of its readings at
   * these stations is published as an observation, and a crossing upward as an alert
   */
  alarms: ReadonlyMap<string, number> = new Map(),
): Promise<ReferenceIngest> {
  const client: MqttClient = await mqtt.connectAsync(brokerUrl, {
    protocolVersion: 4,
    clientId: `ref-ingest-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  (client.stream as unknown as Socket).setNoDelay?.(true);
  let pending: StoredReading[] = [];
  let writing: Promise<void> | undefined;
  let stored = 0;
  let dropped = 0;
  let writeErrors = 0;
  let caughtUp: (() => void) | undefined;
  const waiters = new Set<() => void>();

  const above = new Map<string, boolean>();
  /** after a batch is durable: its crossings of an alarm value (in arrival order) become alerts */
  const evaluate = (batch: readonly StoredReading[]) => {
    if (alarms.size === 0) return;
    for (const r of batch) {
      const v = alarms.get(r.station);
      if (v === undefined || r.metric !== 'water_level') continue;
      // the observation, as the platform publishes one per reading (here only for the alarm stations)
      client.publish(`huewatch/v1/obs/${r.station}`, JSON.stringify({ station: r.station, device: r.device, ts: r.ts, values: [{ metric: r.metric, value: r.value, quality: r.quality }] }), { qos: 1 });
      const was = above.get(r.station) ?? false;
      if (!was && r.value >= v) {
        above.set(r.station, true);
        const ev = { station: r.station, level: 3, msgType: 'Alert', source: { station: r.station, metric: r.metric, value: r.value, threshold: v, observedAt: new Date(r.ts).toISOString() } };
        client.publish(`huewatch/v1/alerts/${r.station}/flood`, JSON.stringify(ev), { qos: 1 });
      } else if (was && r.value < v - 0.05) above.set(r.station, false);
    }
  };

  const kick = () => {
    if (writing || pending.length === 0) return;
    const batch = pending.length <= MAX_BATCH ? pending : pending.slice(0, MAX_BATCH);
    pending = pending.length <= MAX_BATCH ? [] : pending.slice(MAX_BATCH);
    writing = store.writeReadings(batch).then(
      () => {
        stored += batch.length;
        evaluate(batch);
      },
      () => {
        writeErrors++;
        pending = batch.concat(pending); // retry it with the next write
      },
    ).finally(() => {
      writing = undefined;
      if (pending.length < HIGH_WATER && caughtUp) {
        const c = caughtUp;
        caughtUp = undefined;
        c();
      }
      for (const w of waiters) w();
      if (writeErrors > 0 && pending.length > 0) setTimeout(kick, 100).unref();
      else kick();
    });
  };

  // MQTT.js acknowledges a QoS 1 message once handleMessage calls back (and takes the next after it)
  client.handleMessage = (packet, done) => {
    const topic = packet.topic;
    const device = topic.slice(topic.lastIndexOf('/') + 1);
    const st = station(device);
    const decoded = st === undefined ? undefined : decodeTelemetry(packet.payload as Buffer, { now: Date.now() });
    if (!decoded || !decoded.ok) dropped++;
    else for (const r of decoded.readings) for (const row of normaliseReading(r, device, st!).rows) pending.push(row);
    kick();
    if (pending.length >= HIGH_WATER) caughtUp = () => done();
    else done();
  };
  await client.subscribeAsync('huewatch/v1/telemetry/+', { qos: 1 });

  return {
    get stored() { return stored; },
    get dropped() { return dropped; },
    get writeErrors() { return writeErrors; },
    get pending() { return pending.length; },
    async waitStored(n, timeoutMs) {
      const end = performance.now() + timeoutMs;
      while (stored < n && performance.now() < end) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          waiters.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
        waiters.clear();
      }
      return stored;
    },
    async close() {
      await client.endAsync(true).catch(() => undefined);
      if (writing) await writing.catch(() => undefined);
    },
  };
}
