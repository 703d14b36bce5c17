import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent, topics } from '../contract/index.ts';
import { freePort, influxql, startInfluxd, startV2WriteShim, type RestartableServer, type WriteShim } from '../store/test-servers.ts';
import { collect, connectClient, tempDir, waitFor } from './helpers.ts';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

/**
 * Two brokers sharing state through a real redis-server (REDIS_URL: aedes-persistence-redis and
 * mqemitter-redis, broker/persistence.ts), as `huewatch start` processes: broker A and broker B
 * (SERVICES=broker), rules and API on B, two ingest workers (SERVICES=ingest) splitting the
 * telemetry with `$share/ingest/…`, one on each broker, both storing into one influxd. Devices
 * log in at A, residents at B. Then A is killed with SIGKILL in the middle of a device's stream.
 */
const SECRETS = {
  SVC_INGEST_SECRET: 'ingest-secret-for-the-scale-out-test',
  SVC_RULES_SECRET: 'rules-secret-for-the-scale-out-test',
  SVC_API_SECRET: 'api-secret-for-the-scale-out-test',
  SVC_NODERED_SECRET: 'nodered-secret-for-the-scale-out-test',
  SVC_TOKEN: 'service-token-for-the-scale-out-test',
  ADMIN_TOKEN: 'admin-token-for-the-scale-out-test',
  OPERATOR_TOKEN: 'operator-token-for-the-scale-out-test',
  VIEWER_TOKEN: 'viewer-token-for-the-scale-out-test',
};
const DB = 'scale';
const T0 = Date.now() - 20 * 60_000;
const DEVICES = ['kl-01', 'kl-02', 'kl-03', 'kl-04', 'kl-05', 'kl-06'];
const PER_DEVICE = 10;

type Dir = Awaited<ReturnType<typeof tempDir>>;

describe('two brokers sharing Redis, ingest split over two workers', () => {
  let redis: RedisServer;
  let influxd: RestartableServer;
  let shim: WriteShim;
  const dirs: Dir[] = [];
  const clients: MqttClient[] = [];
  let brokerA: HuewatchChild, brokerB: HuewatchChild, rulesApi: HuewatchChild, w1: HuewatchChild, w2: HuewatchChild;
  let portA: number;
  let stateUrl: string;
  const secrets = new Map<string, string>();

  const dir = async () => { const d = await tempDir('huewatch-scale-'); dirs.push(d); return d.dir; };
  const start = async (dataDir: string, env: Record<string, string>) =>
    startHuewatch({ args: ['--no-sim'], dataDir, waitMs: 150_000, env: { SIM: undefined, ...SECRETS, ...env } });
  const brokerEnv = (port: number) => ({ SERVICES: 'broker', REDIS_URL: redis.url, STATE_URL: stateUrl, MQTT_PORT: String(port), BROKER_HEARTBEAT_MS: '1000' });
  const track = <T extends MqttClient>(c: T) => { clients.push(c); return c; };
  const metric = async (p: HuewatchChild, name: string) => {
    const text = await (await fetch(`${p.opsUrl}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  };
  /** water levels stored at Kim Long: one point per time (the readings' times are all different) */
  const stored = async () => {
    const body = await influxql(influxd.url, `SELECT count("water_level") FROM "hydro" WHERE "station" = 'kim-long'`, { db: DB });
    return Number(body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
  };
  const reading = (seq: number, ts: number, level: number) => JSON.stringify({ ts, seq, m: { water_level: level } });

  beforeAll(async () => {
    [redis, influxd] = await Promise.all([startRedis(), startInfluxd()]);
    shim = await startV2WriteShim(influxd.url);
    await influxql(influxd.url, `CREATE DATABASE "${DB}"`);
    portA = await freePort();
    const httpPort = await freePort();
    stateUrl = `http://127.0.0.1:${httpPort}`;
    const [dA, dB, dR, d1, d2] = await Promise.all([dir(), dir(), dir(), dir(), dir()]);
    [brokerA, brokerB] = await Promise.all([start(dA, brokerEnv(portA)), start(dB, brokerEnv(0))]);
    const store = { STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: DB };
    [rulesApi, w1, w2] = await Promise.all([
      start(dR, { ...store, SERVICES: 'rules,api', MQTT_URL: brokerB.mqttUrl, HTTP_PORT: String(httpPort) }),
      start(d1, { ...store, SERVICES: 'ingest', MQTT_URL: brokerA.mqttUrl, STATE_URL: stateUrl, INGEST_SHARED: '1', INGEST_WORKER: 'w1' }),
      start(d2, { ...store, SERVICES: 'ingest', MQTT_URL: brokerB.mqttUrl, STATE_URL: stateUrl, INGEST_SHARED: '1', INGEST_WORKER: 'w2' }),
    ]);
    for (const deviceId of [...DEVICES, 'kl-roam']) {
      const res = await fetch(`${rulesApi.httpUrl}/api/v1/devices`, {
        method: 'POST', headers: { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId, station: 'kim-long' }),
      });
      expect(res.status, deviceId).toBe(201);
      secrets.set(deviceId, ((await res.json()) as { secret: string }).secret);
    }
  }, 400_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await Promise.all([w1, w2, rulesApi, brokerA, brokerB].map((p) => p?.stop('SIGKILL')));
    await shim?.stop();
    await influxd?.stop();
    await redis?.stop();
    await Promise.all(dirs.map((d) => d.cleanup()));
  });

  it('splits the telemetry of devices at A over the two workers, each reading stored once, and shows residents at B the observations and the alert', async () => {
    const resident = track(await connectClient(brokerB.mqttUrl, { clientId: 'resident-at-b' }));
    const seen = collect(resident);
    await resident.subscribeAsync(['huewatch/v1/alerts/#', 'huewatch/v1/obs/#'], { qos: 1 });

    let n = 0;
    for (const deviceId of DEVICES) {
      const device = track(await connectClient(brokerA.mqttUrl, { clientId: deviceId, username: deviceId, password: secrets.get(deviceId)! }));
      // each PUBACK from A once the reading is in Redis, queued for the worker chosen for it
      for (let seq = 1; seq <= PER_DEVICE; seq++) await device.publishAsync(topics.telemetry(deviceId), reading(seq, T0 + ++n * 1000, 0.5), { qos: 1 });
    }
    const total = DEVICES.length * PER_DEVICE;
    await waitFor(async () => (await stored()) >= total, 90_000, `${total} readings stored`);
    expect(await stored()).toBe(total);
    // each message to exactly one worker: their counts add up to what was sent, and both had a share
    const [m1, m2] = [await metric(w1, 'huewatch_ingest_messages_total'), await metric(w2, 'huewatch_ingest_messages_total')];
    expect(m1 + m2).toBe(total);
    expect(m1).toBeGreaterThan(0);
    expect(m2).toBeGreaterThan(0);
    // one device's readings all at one worker (chosen by its topic): the counts are multiples of PER_DEVICE
    expect(m1 % PER_DEVICE).toBe(0);
    await waitFor(() => seen.filter((m) => m.topic.startsWith('huewatch/v1/obs/')).length >= 1, 60_000, 'an observation at B');

    // Kim Long at 1.2 m (alarm level 1 is 1.0 m): the alert reaches the resident at B
    const device = clients.find((c) => c.options.clientId === 'kl-01')!;
    await device.publishAsync(topics.telemetry('kl-01'), reading(PER_DEVICE + 1, Date.now() - 1000, 1.2), { qos: 1 });
    const floodAt = (msgs: typeof seen) => msgs.filter((m) => m.topic.startsWith('huewatch/v1/alerts/') && m.payload.length > 0)
      .map((m) => ({ ...alertEvent.parse(JSON.parse(m.payload)), retain: m.retain })).find((e) => e.key === 'flood:kim-long');
    const raised = await waitFor(() => floodAt(seen), 60_000, 'the flood alert at B');
    expect(raised).toMatchObject({ status: 'active', level: 1, source: { station: 'kim-long', value: 1.2 } });

    // retained in Redis: a resident who logs in later, at either broker, gets it at once
    for (const url of [brokerB.mqttUrl, brokerA.mqttUrl]) {
      const late = track(await connectClient(url, { clientId: `resident-late-${url.slice(-5)}` }));
      const lateSeen = collect(late);
      await late.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
      const retained = await waitFor(() => floodAt(lateSeen), 30_000, `the retained alert at ${url}`);
      expect(retained).toMatchObject({ id: raised.id, retain: true });
    }
  }, 300_000);

  it('loses nothing acknowledged when broker A is killed with SIGKILL mid-stream: the device goes on at B and resends', async () => {
    const before = await stored();
    const N = 150;
    // store-and-forward device: persistent session, both brokers to try in turn
    const roam = track(mqtt.connect({
      servers: [{ host: '127.0.0.1', port: portA }, { host: '127.0.0.1', port: Number(new URL(brokerB.mqttUrl).port) }],
      clientId: 'kl-roam', username: 'kl-roam', password: secrets.get('kl-roam')!, clean: false, reconnectPeriod: 300, connectTimeout: 5000,
    }));
    await new Promise<void>((resolve, reject) => { roam.once('connect', () => resolve()); roam.once('error', reject); });
    let acked = 0;
    const pending: Array<Promise<unknown>> = [];
    for (let seq = 1; seq <= N; seq++) {
      // older than the alert's reading, so the alert stays as it is
      pending.push(roam.publishAsync(topics.telemetry('kl-roam'), reading(seq, T0 - 600_000 + seq * 1000, 0.4), { qos: 1 }).then(() => acked++));
      if (seq === 40) {
        await waitFor(() => acked >= 20, 60_000, 'the first acknowledgements');
        expect(await brokerA.stop('SIGKILL')).toBeNull();
      }
    }
    const ackedAtKill = acked;
    expect(ackedAtKill).toBeLessThan(N);
    // every message is acknowledged in the end, by B
    await waitFor(() => acked === N, 120_000, `all ${N} acknowledged (${acked} so far)`);
    // B takes A for dead after 3 missed heartbeats, and has its ingest worker (w2) replay its queue
    await waitFor(() => brokerB.output().includes('went silent') && brokerB.output().includes('svc-ingest-w2'), 60_000, 'B noticing that A is gone');
    // A comes back on its port; its ingest worker (w1) reconnects and takes what was queued for it
    brokerA = await start(brokerA.dataDir, brokerEnv(portA));
    await waitFor(async () => (await stored()) >= before + N, 120_000, `${N} readings of kl-roam stored`).catch(async (err: unknown) => {
      // what each process said, to see where the rest waits
      const tail = (p: HuewatchChild) => p.output().split('\n').slice(-15).join('\n');
      throw new Error(`${String(err)}; stored ${(await stored()) - before} of ${N}\n--- w1\n${tail(w1)}\n--- w2\n${tail(w2)}\n--- B\n${tail(brokerB)}\n--- A\n${tail(brokerA)}`);
    });
    expect(await stored()).toBe(before + N);
  }, 400_000);
});
