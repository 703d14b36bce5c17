import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { decodeTelemetry, type Reading } from '../contract/telemetry.ts';
import { statusPayload } from '../contract/status.ts';
import { topics } from '../contract/topics.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { createSimulatedDevice, FW_VERSION, type SimulatedDevice, type SimulatedDeviceOptions } from './device.ts';
import { simDeviceId, startSimulator } from './fleet.ts';

const log = pino({ level: 'silent' });
const stations = loadStations(DEFAULT_STATIONS_FILE);
const kimLong = stations.find((s) => s.id === 'kim-long')!;
const deviceId = simDeviceId('kim-long');

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

/**
 * A real aedes broker with two listeners: devices connect to one, which the tests can cut or close
 * to simulate an outage, while the observer stays connected through the other.
 */
async function startBroker() {
  const broker = await Aedes.createBroker();
  const deviceSide = createServer(broker.handle);
  const observerSide = createServer(broker.handle);
  const sockets = new Set<Socket>();
  deviceSide.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = async (server: Server, port = 0) => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };
  const devicePort = await listen(deviceSide);
  const observerPort = await listen(observerSide);
  const closeServer = (server: Server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  return {
    deviceUrl: `mqtt://127.0.0.1:${devicePort}`,
    observerUrl: `mqtt://127.0.0.1:${observerPort}`,
    /** Destroys device sockets without an MQTT DISCONNECT, as a dropped cellular link would. */
    cutDevices() {
      for (const s of sockets) s.destroy();
    },
    /** Refuses device connections until the returned function is called. */
    async outage() {
      const closed = closeServer(deviceSide);
      for (const s of sockets) s.destroy();
      await closed;
      return () => listen(deviceSide, devicePort);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([closeServer(deviceSide), closeServer(observerSide)]);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

async function observe(url: string, filter = 'huewatch/v1/#') {
  const client = await connectAsync(url, { clientId: `observer-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString('utf8'), retain: packet.retain, at: Date.now() }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, received };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function telemetryMessages(received: Received[], id = deviceId) {
  return received.filter((m) => m.topic === topics.telemetry(id));
}

function decoded(m: Received): Reading[] {
  const r = decodeTelemetry(m.payload, { now: m.at });
  if (!r.ok) throw new Error(`${r.code}: ${r.problem}`);
  return r.readings;
}

const seqsOf = (received: Received[]) => telemetryMessages(received).flatMap((m) => decoded(m).map((r) => r.seq!));

function statuses(received: Received[], id = deviceId) {
  return received.filter((m) => m.topic === topics.status(id)).map((m) => ({ ...statusPayload.parse(JSON.parse(m.payload)), retain: m.retain }));
}

let broker: Awaited<ReturnType<typeof startBroker>>;
let observer: Awaited<ReturnType<typeof observe>>;
const devices: SimulatedDevice[] = [];

function device(overrides: Partial<SimulatedDeviceOptions> = {}): SimulatedDevice {
  const d = createSimulatedDevice({
    url: broker.deviceUrl,
    deviceId,
    secret: 'not-checked-by-plain-aedes',
    station: kimLong,
    scenario: 'flood',
    intervalMs: 100,
    speed: 600,
    log,
    backoff: { initialMs: 50, maxMs: 200 },
    ...overrides,
  });
  devices.push(d);
  return d;
}

beforeEach(async () => {
  broker = await startBroker();
  observer = await observe(broker.observerUrl);
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  await observer.client.endAsync(true);
  await broker.close();
});

describe('a simulated device', () => {
  it('publishes contract-valid single readings whose seq rises by one and whose ts is never in the future', async () => {
    await device().start();
    const msgs = await waitFor(() => telemetryMessages(observer.received).length >= 5 && telemetryMessages(observer.received), '5 readings');
    const readings = msgs.map((m) => {
      expect(Array.isArray(JSON.parse(m.payload))).toBe(false);
      const [r] = decoded(m);
      expect(r!.ts).toBeLessThanOrEqual(m.at);
      return r!;
    });
    expect(readings.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    for (const r of readings) expect(Object.keys(r.values).sort()).toEqual(['battery_v', 'rssi', 'water_level']);
  });

  it('leaves a retained online status with its firmware version for anyone who subscribes later', async () => {
    await device().start();
    await waitFor(() => statuses(observer.received).length > 0, 'status');
    const late = await observe(broker.observerUrl, topics.status(deviceId));
    try {
      const [status] = await waitFor(() => late.received.length > 0 && statuses(late.received), 'retained status');
      expect(status).toMatchObject({ online: true, fw: FW_VERSION, retain: true });
    } finally {
      await late.client.endAsync(true);
    }
  });

  it('is reported offline by its last will when its link dies, and online again when it reconnects', async () => {
    await device().start();
    await waitFor(() => statuses(observer.received).some((s) => s.online), 'online');
    broker.cutDevices();
    await waitFor(() => statuses(observer.received).some((s) => !s.online), 'last will');
    const afterWill = statuses(observer.received).findIndex((s) => !s.online);
    await waitFor(() => statuses(observer.received).slice(afterWill).some((s) => s.online), 'online after reconnect');
  });

  it('publishes a retained offline status when stopped gracefully', async () => {
    const d = device();
    await d.start();
    await waitFor(() => statuses(observer.received).some((s) => s.online), 'online');
    await d.stop();
    const last = await waitFor(() => statuses(observer.received).at(-1)?.online === false && statuses(observer.received).at(-1), 'offline');
    expect(last.fw).toBe(FW_VERSION);
    const late = await observe(broker.observerUrl, topics.status(deviceId));
    try {
      const [status] = await waitFor(() => late.received.length > 0 && statuses(late.received), 'retained offline');
      expect(status).toMatchObject({ online: false, retain: true });
    } finally {
      await late.client.endAsync(true);
    }
  });

  it('changes its reporting interval when the platform sends interval_s on its cmd topic', async () => {
    const d = device({ intervalMs: 60_000 });
    await d.start();
    await waitFor(() => telemetryMessages(observer.received).length === 1, 'first reading');
    await observer.client.publishAsync(topics.cmd(deviceId), JSON.stringify({ interval_s: 0.1 }), { qos: 1, retain: true });
    await waitFor(() => telemetryMessages(observer.received).length >= 4, 'readings at the new interval', 3000);
    expect(d.stats().intervalMs).toBe(100);
    expect(seqsOf(observer.received).slice(0, 4)).toEqual([0, 1, 2, 3]);
  });

  it('applies a retained command that was waiting on the broker before it connected', async () => {
    await observer.client.publishAsync(topics.cmd(deviceId), JSON.stringify({ interval_s: 30 }), { qos: 1, retain: true });
    const d = device();
    await d.start();
    await waitFor(() => d.stats().intervalMs === 30_000, 'interval from the retained command');
  });

  it('ignores a malformed command and keeps reporting', async () => {
    const d = device();
    await d.start();
    await observer.client.publishAsync(topics.cmd(deviceId), 'not json', { qos: 1 });
    await observer.client.publishAsync(topics.cmd(deviceId), JSON.stringify({ interval_s: -5 }), { qos: 1 });
    const n = telemetryMessages(observer.received).length;
    await waitFor(() => telemetryMessages(observer.received).length >= n + 3, 'more readings');
    expect(d.stats().intervalMs).toBe(100);
  });

  it('buffers readings during a broker outage and flushes them as one array with consecutive seqs', async () => {
    const d = device({ intervalMs: 50 });
    await d.start();
    await waitFor(() => seqsOf(observer.received).length >= 3, 'live readings');
    const restore = await broker.outage();
    await waitFor(() => d.stats().buffered >= 5, 'buffered readings');
    await restore();
    const flush = await waitFor(() => telemetryMessages(observer.received).find((m) => m.payload.startsWith('[')), 'flush');
    const seqs = decoded(flush).map((r) => r.seq!);
    expect(seqs.length).toBeGreaterThanOrEqual(5);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    // Nothing lost overall: with redelivery possible, the distinct seqs still form an unbroken run.
    await waitFor(() => Math.max(...seqsOf(observer.received)) > seqs.at(-1)! + 2, 'live readings after the flush');
    const all = [...new Set(seqsOf(observer.received))].sort((a, b) => a - b);
    expect(all).toEqual(all.map((_, i) => i));
    expect(d.stats()).toMatchObject({ buffered: 0, dropped: 0 });
  });

  it('starts while the broker is unreachable and delivers its first readings once it comes up', async () => {
    const restore = await broker.outage();
    const d = device();
    await d.start();
    await waitFor(() => d.stats().buffered >= 3, 'buffered readings');
    await restore();
    const flush = await waitFor(() => telemetryMessages(observer.received)[0], 'flush');
    expect(decoded(flush).map((r) => r.seq).slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('drops the oldest readings and counts them when the buffer is full', async () => {
    const d = device({ intervalMs: 50, bufferLimit: 3 });
    await d.start();
    await waitFor(() => seqsOf(observer.received).length >= 1, 'a live reading');
    const restore = await broker.outage();
    await waitFor(() => d.stats().dropped >= 3, 'dropped readings');
    expect(d.stats().buffered).toBe(3);
    await restore();
    const flush = await waitFor(() => telemetryMessages(observer.received).find((m) => m.payload.startsWith('[')), 'flush');
    const seqs = decoded(flush).map((r) => r.seq!);
    expect(seqs).toHaveLength(3);
    expect(seqs).toEqual([seqs[0]!, seqs[0]! + 1, seqs[0]! + 2]);
  });

  it('splits a flush of more than 1000 readings into arrays of at most 1000', async () => {
    const d = device({ intervalMs: 60_000, bufferLimit: 5000 });
    await d.start();
    const restore = await broker.outage();
    await waitFor(() => !d.stats().connected, 'disconnect');
    for (let i = 0; i < 1500; i++) await d.publishReading({ water_level: 1 + i / 1000 });
    await restore();
    const arrays = await waitFor(() => {
      const a = telemetryMessages(observer.received).filter((m) => m.payload.startsWith('['));
      return a.reduce((n, m) => n + decoded(m).length, 0) >= 1500 && a;
    }, 'all buffered readings');
    for (const m of arrays) expect(decoded(m).length).toBeLessThanOrEqual(1000);
    expect(arrays.length).toBeGreaterThanOrEqual(2);
  });

  it('publishes a technician-injected reading with the next seq', async () => {
    const d = device({ intervalMs: 60_000 });
    await d.start();
    await waitFor(() => telemetryMessages(observer.received).length === 1, 'first reading');
    await d.publishReading({ water_level: 3.9 });
    const m = await waitFor(() => telemetryMessages(observer.received)[1], 'injected reading');
    expect(decoded(m)).toEqual([{ ts: expect.any(Number), seq: 1, values: { water_level: 3.9 } }]);
  });
});

describe('a simulated fleet', () => {
  it('starts one device per station under its sim- id and stops them all offline', async () => {
    const picked = stations.filter((s) => ['kim-long', 'rg-nam-dong', 'aq-hue-center'].includes(s.id));
    const sim = await startSimulator({
      url: broker.deviceUrl,
      devices: picked.map((station) => ({ deviceId: simDeviceId(station.id), secret: 's', station })),
      scenario: 'calm',
      intervalMs: 100,
      speed: 60,
      log,
    });
    for (const s of picked) await waitFor(() => telemetryMessages(observer.received, simDeviceId(s.id)).length >= 2, `${s.id} readings`);
    const rain = decoded(telemetryMessages(observer.received, 'sim-rg-nam-dong')[0]!)[0]!;
    expect(rain.values).toHaveProperty('rainfall');
    await sim.stop();
    for (const s of picked) expect(statuses(observer.received, simDeviceId(s.id)).at(-1)?.online).toBe(false);
  });

  it('connects every device at start and spreads only their first reports over one interval', async () => {
    const picked = stations.filter((s) => ['kim-long', 'phu-oc', 'rg-hue'].includes(s.id));
    const ids = picked.map((s) => simDeviceId(s.id));
    const startedAt = Date.now();
    const sim = await startSimulator({
      url: broker.deviceUrl,
      devices: picked.map((station) => ({ deviceId: simDeviceId(station.id), secret: 's', station })),
      scenario: 'calm',
      intervalMs: 3_000,
      speed: 60,
      log,
    });
    const startMs = Date.now() - startedAt;
    try {
      // a long interval must not hold up the start (a 60 s interval once held up the platform for a minute)
      expect(startMs).toBeLessThan(2_000);
      for (const id of ids) await waitFor(() => statuses(observer.received, id).at(-1)?.online === true, `${id} online`);
      for (const id of ids) await waitFor(() => telemetryMessages(observer.received, id)[0], `${id} first report`, 5_000);
      // first reports in device order, one step (3 s / 3 devices) apart: the fleet does not report in lockstep
      const firsts = ids.map((id) => telemetryMessages(observer.received, id)[0]!.at);
      expect(firsts[1]! - firsts[0]!).toBeGreaterThanOrEqual(900);
      expect(firsts[2]! - firsts[1]!).toBeGreaterThanOrEqual(900);
    } finally {
      await sim.stop();
    }
  });
});
