import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { ErrorCode, parseTopic, subscriptions, topics, decodeTelemetry } from '../contract/index.ts';
import type { DeviceRecord, TimeSeriesStore } from '../store/types.ts';
import { ThrottledLog } from '../platform/throttled-log.ts';
import { normaliseReading } from './normalise.ts';

export interface IngestDeps {
  /** connected as the `ingest` service account */
  mqtt: MqttClient;
  store: TimeSeriesStore;
  devices: { getDevice(deviceId: string): Promise<DeviceRecord | undefined> };
  log: Logger;
  metrics: Registry;
  clock?: { now(): number };
  /** how often a misbehaving device's problems are logged (they are always counted) */
  badInputLogIntervalMs?: number;
  /** MQTT shared-subscription group, so several ingest workers split the load ($share/{group}/…) */
  shareGroup?: string;
}

/**
 * Ingest: telemetry in, stored readings and observations out. Each QoS 1 message is acknowledged
 * to the broker only after its readings are written (MQTT.js `handleMessage` sends the PUBACK when
 * its callback is called), so a crash between receive and write makes the broker redeliver; the
 * store's idempotent write makes redelivery harmless. A bad payload is counted, logged at most
 * once per interval per device, acknowledged and dropped: it never blocks the devices behind it.
 */
export function createIngest(deps: IngestDeps) {
  const { mqtt, store, devices, metrics } = deps;
  const log = deps.log.child({ module: 'ingest' });
  const now = () => (deps.clock ?? Date).now();
  const badLog = new ThrottledLog(log, deps.badInputLogIntervalMs ?? 60_000, now);

  const received = new Counter({ name: 'huewatch_ingest_messages_total', help: 'Telemetry messages received', registers: [metrics] });
  const stored = new Counter({ name: 'huewatch_ingest_readings_stored_total', help: 'Metric values written to the store', registers: [metrics] });
  const dropped = new Counter({
    name: 'huewatch_ingest_dropped_total',
    help: 'Telemetry messages dropped, by error code and device',
    labelNames: ['code', 'device'],
    registers: [metrics],
  });
  const writeSeconds = new Histogram({
    name: 'huewatch_ingest_write_seconds',
    help: 'Time to write one message’s readings to the store',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [metrics],
  });

  // The device → station map changes rarely; cache it briefly to keep a store round trip off the hot path.
  const deviceCache = new Map<string, { rec: DeviceRecord | undefined; at: number }>();
  const DEVICE_CACHE_MS = 30_000;
  async function lookupDevice(id: string) {
    const hit = deviceCache.get(id);
    if (hit && now() - hit.at < DEVICE_CACHE_MS) return hit.rec;
    const rec = await devices.getDevice(id);
    if (deviceCache.size > 10_000) deviceCache.clear();
    deviceCache.set(id, { rec, at: now() });
    return rec;
  }

  function drop(code: ErrorCode, device: string, topic: string, problem: string) {
    dropped.inc({ code, device });
    badLog.warn(device, { code, device, topic, problem }, 'telemetry dropped');
  }

  async function handle(topic: string, payload: Buffer): Promise<void> {
    received.inc();
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind !== 'telemetry') return; // not ours: the subscription is narrower than this
    const deviceId = parsed.id;
    const device = await lookupDevice(deviceId);
    if (!device || device.disabled) return drop(ErrorCode.DEVICE_UNKNOWN, deviceId, topic, 'device is not registered');
    const decoded = decodeTelemetry(payload, { now: now() });
    if (!decoded.ok) return drop(decoded.code, deviceId, topic, decoded.problem);

    const batch = decoded.readings.map((r) => normaliseReading(r, deviceId, device.station));
    const rows = batch.flatMap((b) => b.rows);
    const end = writeSeconds.startTimer();
    await store.writeReadings(rows);
    end();
    stored.inc(rows.length);
    // Observations go out in observation-time order; the rules engine relies on it per station.
    for (const { obs } of batch.sort((a, b) => a.obs.ts - b.obs.ts)) {
      mqtt.publish(topics.obs(obs.station), JSON.stringify(obs), { qos: 1 });
    }
  }

  const filter = deps.shareGroup ? `$share/${deps.shareGroup}/${subscriptions.allTelemetry}` : subscriptions.allTelemetry;
  let started = false;
  return {
    async start(): Promise<void> {
      if (started) return;
      started = true;
      mqtt.handleMessage = (packet, callback) => {
        handle(packet.topic, packet.payload as Buffer).then(
          () => callback(),
          (err: unknown) => {
            // A store failure must not ack the message: leave it unacknowledged so the broker
            // redelivers it when the session resumes (issue #3 adds the on-disk spool).
            log.error({ err, topic: packet.topic }, 'telemetry not stored');
            callback(err as Error);
          },
        );
      };
      await mqtt.subscribeAsync(filter, { qos: 1 });
      log.info({ filter }, 'ingest subscribed');
    },
    async stop(): Promise<void> {
      if (!started) return;
      started = false;
      await mqtt.unsubscribeAsync(filter).catch(() => undefined);
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
