import { readFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../contract/topics.ts';
import { runDeviceFlood, type Flooder, type FloodStats } from '../broker/device-flood.ts';

/**
 * Issue #16 point 4, "fair under floods", as one scenario against a running platform (for
 * test/flood-fairness.e2e.test.ts and bench/flood-fairness.ts; no test framework in here):
 * registered devices flood over raw sockets (of 50: 20 QoS 0 single readings, 20 QoS 1 arrays of
 * 100 readings, none waiting for a PUBACK, and 10 their QoS 0 status) while well-behaved devices publish a
 * reading a second at QoS 1, one of them at Kim Long crossing alarm levels 1, 2 and 3. An
 * anonymous resident listens on `huewatch/v1/alerts/#`; `/health` is asked twice a second.
 */
export interface FloodScenarioOptions {
  httpUrl: string;
  mqttUrl: string;
  adminToken: string;
  /** the platform's process id: its peak RSS (VmHWM) is read from /proc */
  pid?: number | undefined;
  flooders?: number;
  floodMs?: number;
  maxMessagesPerFlooder?: number;
  /** the crossing starts this long into the flood (past the flooders' bursts) */
  crossingAtMs?: number;
  log?: (line: string) => void;
}

export interface CrossingAlert {
  level: number;
  msgType: string;
  /** device publish → the resident's receipt of the alert event of that level */
  latencyMs: number;
}

export interface FloodScenarioResult {
  flood: FloodStats[];
  health: { asked: number; ok: number; failed: string[]; maxMs: number; latenciesMs: number[] };
  /** the Kim Long alert events the resident received, in the order received */
  alerts: CrossingAlert[];
  /** per good device: readings acknowledged, and readings of its station read back through the API */
  good: Array<{ deviceId: string; station: string; metric: string; acked: number; stored: number }>;
  rssPeakMb: number | undefined;
  /** the platform's resident set just before the flood */
  rssBeforeMb: number | undefined;
  quota: { dropped: number; slowed: number };
  storedTotal: number;
}

const FLOOD_STATIONS = ['rg-hue', 'rg-nam-dong', 'rg-bach-ma', 'rg-thuong-nhat', 'rg-huong-phu'];
/** the well-behaved devices: a station of their own each, a steady value below every alarm level */
const GOOD = [
  { deviceId: 'good-kim-long', station: 'kim-long', metric: 'water_level', value: 0.5 },
  { deviceId: 'good-phu-oc', station: 'phu-oc', metric: 'water_level', value: 0.8 },
  { deviceId: 'good-phong-binh', station: 'phong-binh', metric: 'water_level', value: 1.1 },
  { deviceId: 'good-cau-truoi', station: 'cau-truoi', metric: 'water_level', value: 0.6 },
  { deviceId: 'good-a-luoi', station: 'rg-a-luoi', metric: 'rainfall', value: 0.2 },
] as const;
/** Kim Long's alarm levels are 1.0, 2.0 and 3.5 m (config/rules.yaml, holdRise 0 s) */
const CROSSING = [{ level: 1, value: 1.2 }, { level: 2, value: 2.3 }, { level: 3, value: 3.9 }];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function register(o: FloodScenarioOptions, deviceId: string, station: string): Promise<string> {
  const res = await fetch(`${o.httpUrl}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${o.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deviceId, station }),
  });
  const body = (await res.json()) as { secret?: string; message?: string };
  if (res.status !== 201 || !body.secret) throw new Error(`registering ${deviceId}: ${res.status} ${body.message ?? ''}`);
  return body.secret;
}

/** the process's peak resident set (VmHWM), or its current one (VmRSS), in MB */
export async function peakRssMb(pid: number | undefined, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  return kb ? Math.round(Number(kb) / 1024) : undefined;
}

/** the sum of a metric's samples on /metrics; NaN when the platform does not answer within 30 s */
async function metricSum(httpUrl: string, name: string, match: (line: string) => boolean = () => true): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
  if (!res) return Number.NaN;
  const text = await res.text();
  return text.split('\n').filter((l) => l.startsWith(name) && match(l)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

export async function runFloodScenario(o: FloodScenarioOptions): Promise<FloodScenarioResult> {
  const log = o.log ?? (() => undefined);
  const n = o.flooders ?? 50;
  const floodMs = o.floodMs ?? 20_000;
  const crossingAtMs = o.crossingAtMs ?? Math.round(floodMs * 0.4);
  const clients: MqttClient[] = [];
  try {
    const flooders: Flooder[] = [];
    for (let i = 0; i < n; i += 10) {
      // ten registrations at a time: each is a scrypt hash on the platform
      const ids = Array.from({ length: Math.min(10, n - i) }, (_, k) => i + k);
      flooders.push(...await Promise.all(ids.map(async (k): Promise<Flooder> => {
        const deviceId = `flood-${k}`;
        const secret = await register(o, deviceId, FLOOD_STATIONS[k % FLOOD_STATIONS.length]!);
        // of every five: two QoS 0 single readings, two QoS 1 arrays of 100, one QoS 0 status
        // (not ingested, so nothing but the quota holds it back)
        const kind = k % 5;
        return kind < 2
          ? { deviceId, secret, qos: 0, readingsPerMessage: 1, metrics: { rainfall: 0 } }
          : kind < 4
            ? { deviceId, secret, qos: 1, readingsPerMessage: 100, metrics: { rainfall: 0 } }
            : { deviceId, secret, topic: 'status', qos: 0, readingsPerMessage: 1, metrics: {} };
      })));
    }
    const good = await Promise.all(GOOD.map(async (g) => {
      const secret = await register(o, g.deviceId, g.station);
      const client = await mqtt.connectAsync(o.mqttUrl, { clientId: g.deviceId, username: g.deviceId, password: secret, reconnectPeriod: 1_000, connectTimeout: 30_000 });
      clients.push(client);
      return { ...g, client, acked: 0, failed: 0, lastTs: 0, firstTs: Date.now() - 60_000 };
    }));
    log(`# registered ${n} flooders and ${good.length} good devices`);

    const resident = await mqtt.connectAsync(o.mqttUrl, { clientId: `resident-${process.pid}`, reconnectPeriod: 1_000, connectTimeout: 30_000 });
    clients.push(resident);
    const published = new Map<number, number>(); // level → when its reading was published
    const alerts: CrossingAlert[] = [];
    resident.on('message', (_topic, payload) => {
      const a = JSON.parse(payload.toString()) as { key?: string; level?: number; msgType?: string };
      if (a.key !== 'flood:kim-long' || a.level === undefined) return;
      const at = published.get(a.level);
      alerts.push({ level: a.level, msgType: a.msgType ?? '', latencyMs: at === undefined ? Number.NaN : Date.now() - at });
    });
    await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });

    // the good devices: one reading a second each, QoS 1, until told to stop
    let seq = 0;
    let steady = true;
    const kimLongValue = { v: GOOD[0].value as number };
    const reading = (g: (typeof good)[number], value: number) => {
      // a reading's place in history is its ts: two in the same millisecond (the crossing and the
      // steady loop can fire in one timer tick) would be one reading in the store
      g.lastTs = Math.max(Date.now(), g.lastTs + 1);
      return g.client.publishAsync(topics.telemetry(g.deviceId), JSON.stringify({ ts: g.lastTs, seq: ++seq, m: { [g.metric]: value } }), { qos: 1 })
        .then(() => void g.acked++, () => void g.failed++);
    };
    const pending: Array<Promise<void>> = [];
    const goodLoop = (async () => {
      while (steady) {
        for (const g of good) pending.push(reading(g, g.deviceId === 'good-kim-long' ? kimLongValue.v : g.value));
        await sleep(1_000);
      }
    })();

    // /health twice a second, each bounded: a timeout is a failure, not a wait
    const health = { asked: 0, ok: 0, failed: [] as string[], maxMs: 0, latenciesMs: [] as number[] };
    let probing = true;
    const healthLoop = (async () => {
      while (probing) {
        const t0 = Date.now();
        health.asked++;
        try {
          const res = await fetch(`${o.httpUrl}/health`, { signal: AbortSignal.timeout(5_000) });
          await res.text();
          if (res.status === 200) health.ok++;
          else health.failed.push(`HTTP ${res.status}`);
        } catch (err) {
          health.failed.push(String(err));
        }
        const ms = Date.now() - t0;
        health.latenciesMs.push(ms);
        health.maxMs = Math.max(health.maxMs, ms);
        await sleep(Math.max(0, 500 - ms));
      }
    })();

    await sleep(2_000); // a few calm readings first
    const rssBeforeMb = await peakRssMb(o.pid, 'VmRSS');
    const floodStarted = Date.now();
    const flood = runDeviceFlood({ port: Number(new URL(o.mqttUrl).port), host: new URL(o.mqttUrl).hostname, flooders, durationMs: floodMs, maxMessagesPerDevice: o.maxMessagesPerFlooder ?? 200_000 });
    // the crossing, into the flood: Kim Long's device publishes 1.2, 2.3, 3.9 m, two seconds apart
    const crossing = (async () => {
      await sleep(crossingAtMs);
      const kl = good[0]!;
      for (const c of CROSSING) {
        kimLongValue.v = c.value;
        published.set(c.level, Date.now());
        pending.push(reading(kl, c.value));
        await sleep(2_000);
      }
    })();
    const floodStats = await flood.finally(() => crossing).catch((err: unknown) => {
      steady = probing = false;
      throw err;
    });
    log(`# flood over after ${Date.now() - floodStarted} ms`);
    steady = false;
    await goodLoop;
    probing = false;
    await healthLoop;
    // every good reading acknowledged (generous: the platform may still be storing the flood)
    await Promise.race([Promise.all(pending), sleep(60_000)]);
    const rssPeakMb = await peakRssMb(o.pid);

    // every acknowledged good reading is in the store, read back through the API
    const goodOut: FloodScenarioResult['good'] = [];
    for (const g of good) {
      let stored = 0;
      const deadline = Date.now() + 60_000;
      do {
        const q = new URLSearchParams({ metric: g.metric, from: new Date(g.firstTs).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });
        // a platform that does not answer within 30 s has stored nothing we can see
        const res = await fetch(`${o.httpUrl}/api/v1/stations/${g.station}/series?${q}`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
        stored = res ? (((await res.json()) as { points?: unknown[] }).points?.length ?? 0) : 0;
        if (stored >= g.acked) break;
        await sleep(500);
      } while (Date.now() < deadline);
      goodOut.push({ deviceId: g.deviceId, station: g.station, metric: g.metric, acked: g.acked, stored });
    }
    const quota = {
      dropped: await metricSum(o.httpUrl, 'huewatch_broker_quota_total', (l) => l.includes('action="dropped"')),
      slowed: await metricSum(o.httpUrl, 'huewatch_broker_quota_total', (l) => l.includes('action="slowed"')),
    };
    const storedTotal = await metricSum(o.httpUrl, 'huewatch_ingest_readings_stored_total');
    return { flood: floodStats, health, alerts, good: goodOut, rssPeakMb, rssBeforeMb, quota, storedTotal };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}
