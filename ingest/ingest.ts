import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ErrorCode, parseTopic, subscriptions, decodeTelemetry } from '../contract/index.ts';
import type { DeviceRecord, TimeSeriesStore } from '../store/types.ts';
import { ThrottledLog } from '../platform/throttled-log.ts';
import { createReadingSink } from './reading-sink.ts';

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
  const dropped = new Counter({
    name: 'huewatch_ingest_dropped_total',
    help: 'Telemetry messages dropped, by error code and device',
    labelNames: ['code', 'device'],
    registers: [metrics],
  });
  const accept = createReadingSink({ mqtt, store, metrics });

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

    await accept(deviceId, device.station, decoded.readings);
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
