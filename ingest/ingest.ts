import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ErrorCode, parseTopic, subscriptions, decodeTelemetry } from '../contract/index.ts';
import type { DeviceRecord, TimeSeriesStore } from '../store/types.ts';
import { ThrottledLog } from '../platform/throttled-log.ts';
import { isStationDevice } from '../platform/devices.ts';
import { createReadingSink } from './reading-sink.ts';

export interface IngestDeps {
  /**
   * the `ingest` service account; with a persistent session create it with `manualConnect: true`
   * and let start() connect, so no redelivered message arrives before the handler is installed
   */
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
  /**
   * After a message could not be stored (store down and spool full), reconnect this long after, so
   * the broker redelivers what was left unacknowledged (persistent session). Default 5 s.
   */
  redeliverAfterMs?: number;
}

/** Store failures that will never succeed for this message: acknowledge and count, or it returns forever. */
const PERMANENT_STORE_FAILURES: ReadonlySet<string> = new Set([ErrorCode.STORE_REJECTED, ErrorCode.BAD_REQUEST]);

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
  const storeFailures = new Counter({
    name: 'huewatch_ingest_unstored_total',
    help: 'Telemetry messages left unacknowledged because neither the store nor the spool took them, by error code',
    labelNames: ['code'],
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
    // VMS trackers and AIS receivers publish on vms/ and ais/ (the broker refuses them telemetry);
    // a second check here, for brokers without our ACL: telemetry from them is no station's
    if (!isStationDevice(device)) return drop(ErrorCode.DEVICE_UNKNOWN, deviceId, topic, `device is registered as ${device.station}, not for a station`);
    const decoded = decodeTelemetry(payload, { now: now() });
    if (!decoded.ok) return drop(decoded.code, deviceId, topic, decoded.problem);

    await accept(deviceId, device.station, decoded.readings);
  }

  // MQTT 3.1.1 has no negative ack: an unacknowledged QoS 1 message stays in the broker's session
  // and comes again only when the session resumes [MQTT-4.4.0-1]. So once writes are refused
  // (spool full), drop the connection after a pause; the client reconnects with clean=false and the
  // broker resends everything it has not had a PUBACK for, in order.
  let redeliverTimer: NodeJS.Timeout | undefined;
  const redeliverLater = () => {
    redeliverTimer ??= setTimeout(() => {
      redeliverTimer = undefined;
      if (!started) return;
      log.warn('reconnecting so the broker redelivers unstored messages');
      mqtt.stream?.destroy();
    }, deps.redeliverAfterMs ?? 5_000);
    redeliverTimer.unref?.();
  };

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
            const code = (err as { code?: string }).code ?? ErrorCode.INTERNAL;
            if (PERMANENT_STORE_FAILURES.has(code)) {
              // the store refuses this message for good: redelivering it would only block the rest
              const device = parseTopic(packet.topic)?.id ?? '?';
              drop(code as ErrorCode, device, packet.topic, (err as Error).message);
              callback();
              return;
            }
            // Store down and spool full (or closing): no ack, so the broker keeps the message.
            storeFailures.inc({ code });
            badLog.warn(`store:${code}`, { err, code, topic: packet.topic }, 'telemetry not stored (not acknowledged: the broker keeps it)');
            callback(err as Error);
            redeliverLater();
          },
        );
      };
      if (!mqtt.connected) {
        // created with manualConnect: connect only now that the handler above is in place, or the
        // messages a resumed session delivers first would be acked by MQTT.js' default handler
        // without being stored (seen as lost readings after a SIGKILL of ingest)
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => { mqtt.off('connect', onConnect); reject(err); };
          const onConnect = () => { mqtt.off('error', onError); resolve(); };
          mqtt.once('connect', onConnect).once('error', onError);
          mqtt.connect();
        });
      }
      await mqtt.subscribeAsync(filter, { qos: 1 });
      log.info({ filter }, 'ingest subscribed');
    },
    async stop(): Promise<void> {
      if (!started) return;
      started = false;
      clearTimeout(redeliverTimer);
      redeliverTimer = undefined;
      await mqtt.unsubscribeAsync(filter).catch(() => undefined);
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
