import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { influxql, startInfluxd, startV2WriteShim, type RestartableServer, type WriteShim } from '../store/test-servers.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * DESIGN.md "Storage": an outage of the store loses nothing, and a restart of ingest in the middle
 * loses nothing either. Real influxd 1.6.7 (killed and restarted on its data), a real broker, a
 * real device client, ingest as its own process killed with SIGKILL.
 */
const T0 = Date.now() - 3_600_000;
const SVC_INGEST_SECRET = 'ingest-secret-for-durability-tests';
const SVC_TOKEN = 'service-token-for-durability-tests';

let influxd: RestartableServer;
/** TEST ADAPTER: influxd 1.6.7 has no /api/v2/write (store/test-servers.ts) */
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

async function freshDatabase(): Promise<string> {
  const db = `durable_${++dbs}`;
  await influxql(influxd.url, `CREATE DATABASE "${db}"`);
  return db;
}

/** The seq of every stored water level (one per point: InfluxDB keeps one point per series and time). */
async function storedSeqs(db: string): Promise<number[]> {
  const body = await influxql(influxd.url, 'SELECT "water_level_seq" FROM "hydro"', { db });
  return (body.results?.[0]?.series?.[0]?.values ?? []).map((v) => Number(v[1]));
}

async function metricValue(platform: Platform, name: string): Promise<number> {
  const text = await (await fetch(`${platform.httpUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

const publish = (device: MqttClient, deviceId: string, i: number) =>
  device.publishAsync(topics.telemetry(deviceId), JSON.stringify({ ts: T0 + i * 1000, seq: i, m: { water_level: 1 + i / 1000 } }), { qos: 1 });
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('readings survive an outage of the store and a crash of ingest', () => {
  it('keeps every reading, each once, when influxd is killed mid-stream and restarted, even past a full spool', async () => {
    const data = await tempDir();
    const db = await freshDatabase();
    // a spool smaller than the outage: part of the stream is refused, left unacknowledged, and
    // redelivered by the broker once the store is back
    const platform = await startTestPlatform(data.dir, {
      STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: db, SPOOL_WRITE_TIMEOUT_MS: '300', SPOOL_MAX_ROWS: '80',
    });
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    const device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
    const N = 300;
    try {
      for (let i = 1; i <= 100; i++) await publish(device, 'kl-01', i);
      await waitFor(async () => (await storedSeqs(db)).length >= 50, 5000, 'readings stored before the outage');
      await influxd.kill();
      // A PUBACK means durable: while the store is down they come as the spool takes the readings;
      // once it is full they wait (backpressure), so the rest is sent without waiting for them.
      const pending = [];
      for (let i = 101; i <= N; i++) pending.push(publish(device, 'kl-01', i));
      await waitFor(async () => (await metricValue(platform, 'huewatch_spool_refused_readings_total')) > 0, 10_000, 'a full spool');
      // the platform still runs and says why readings wait: what an operator checks first
      const health = (await (await fetch(`${platform.httpUrl}/health`)).json()) as { status: string; problems?: Array<{ code: string }> };
      expect(health.status).toBe('degraded');
      expect(health.problems?.[0]?.code).toBe('HW_ERR_STORE_UNAVAILABLE');
      let acked = 0;
      for (const p of pending) void p.then(() => acked++);
      await new Promise((r) => setTimeout(r, 300));
      expect(acked).toBeLessThan(N - 100); // held back at the full spool, not acknowledged and lost
      await influxd.restart();
      await Promise.all(pending);
      const seqs = await waitFor(async () => {
        const s = await storedSeqs(db);
        return s.length >= N && s;
      }, 30_000, `${N} readings in InfluxDB`);
      expect(seqs.sort((a, b) => a - b)).toEqual(oneToN(N));
      expect(await metricValue(platform, 'huewatch_spool_refused_readings_total')).toBeGreaterThan(0);
      expect(await metricValue(platform, 'huewatch_store_written_readings_total{path="replay"}')).toBeGreaterThan(0);
      expect(await metricValue(platform, 'huewatch_ingest_commit_retries_total')).toBeGreaterThan(0);
      await waitFor(async () => (await metricValue(platform, 'huewatch_spool_depth_readings')) === 0, 10_000, 'an empty spool');
      expect(((await (await fetch(`${platform.httpUrl}/health`)).json()) as { status: string }).status).toBe('ok');
    } finally {
      await device.endAsync();
      await platform.stop();
      await data.cleanup();
    }
  }, 60_000);

  it('keeps every reading, each once, when the ingest process is killed with SIGKILL mid-stream and started again', async () => {
    const [stateDir, ingestDir] = [await tempDir(), await tempDir()];
    const db = await freshDatabase();
    const influxEnv = { STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: db, SVC_INGEST_SECRET, SVC_TOKEN };
    // broker, rules (the state database's owner) and API here; ingest in a child process of its own
    const platform = await startTestPlatform(stateDir.dir, { ...influxEnv, SERVICES: 'broker,rules,api' });
    const secret = await registerDevice(platform, 'kl-02', 'kim-long');
    const device = await connectClient(platform.mqttUrl, { username: 'kl-02', password: secret, clientId: 'kl-02' });
    const startIngest = (): Promise<HuewatchChild> => startHuewatch({
      args: ['--services', 'ingest'], dataDir: ingestDir.dir, waitMs: 30_000,
      env: { ...influxEnv, MQTT_URL: platform.mqttUrl, STATE_URL: platform.httpUrl },
    });
    const N = 400;
    let ingest = await startIngest();
    try {
      for (let i = 1; i <= 250; i++) await publish(device, 'kl-02', i);
      await waitFor(async () => (await storedSeqs(db)).length >= 30, 10_000, 'ingest storing');
      await ingest.stop('SIGKILL');
      const storedAtKill = (await storedSeqs(db)).length;
      // the broker keeps the persistent session of svc-ingest and queues for it meanwhile
      for (let i = 251; i <= N; i++) await publish(device, 'kl-02', i);
      ingest = await startIngest();
      let got: number[] = [];
      const seqs = await waitFor(async () => {
        got = await storedSeqs(db);
        return got.length >= N && got;
      }, 20_000, `${N} readings in InfluxDB`).catch((err: Error) => {
        const have = new Set(got);
        throw new Error(`${err.message}: ${got.length} stored, missing ${oneToN(N).filter((i) => !have.has(i)).join(',').slice(0, 300)}`);
      });
      expect(storedAtKill).toBeLessThan(250); // killed while it still had published readings to store
      expect(seqs.sort((a, b) => a - b)).toEqual(oneToN(N));
    } finally {
      await ingest.stop('SIGKILL');
      await device.endAsync();
      await platform.stop();
      await stateDir.cleanup();
      await ingestDir.cleanup();
    }
  }, 60_000);
});
