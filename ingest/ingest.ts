import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Bus } from '../contract/bus.ts';
import { deviceErrorPayload, ErrorCode, parseTopic, subscriptions, topics, decodeTelemetry } from '../contract/index.ts';
import type { Observation } from '../contract/obs.ts';
import type { Reading } from '../contract/telemetry.ts';
import type { DeviceRecord, SequencedReadings, TimeSeriesStore } from '../store/types.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import { isStationDevice } from '../lib/devices.ts';
import { createGroupCommit, GroupCommitClosedError, type GroupCommitOptions } from './group-commit.ts';
import { createReadingSink } from './reading-sink.ts';
import { SeqDedupe, type SeqDedupeOptions } from './seq-dedupe.ts';

export interface IngestDeps {
  store: Pick<TimeSeriesStore, 'writeReadings'>;
  devices: { getDevice(deviceId: string): Promise<DeviceRecord | undefined> };
  log: Logger;
  metrics: Registry;
  clock?: { now(): number };
  /** where observations go out for other processes and live views; absent = not published */
  bus?: Pick<Bus, 'publishAsync'>;
  /** the rules engine of this process, fed beside the durable write */
  observe?: (obs: Observation) => void;
  /**
   * Ingest in a process without the broker: the `ingest` service account, subscribed to all
   * telemetry with a persistent session (create it with `manualConnect: true`; start() connects
   * once the handler is installed). Absent: the broker of this process hands telemetry to
   * `accept` itself (broker/server.ts `ingress`), and no subscription is made.
   */
  mqtt?: MqttClient;
  /** MQTT shared-subscription group, so several ingest workers split the load ($share/{group}/…) */
  shareGroup?: string;
  /** how often a misbehaving device's problems are logged (they are always counted) */
  badInputLogIntervalMs?: number;
  /** After a message could not be stored, reconnect this long after so the broker redelivers (subscribing mode). */
  redeliverAfterMs?: number;
  commit?: Pick<GroupCommitOptions, 'maxPendingRows' | 'maxBatchRows' | 'retryDelayMs'>;
  /** the duplicate check by device and seq (ingest/seq-dedupe.ts): its window and bounds */
  dedupe?: SeqDedupeOptions;
  /**
   * The stored readings that carried a seq, to warm the duplicate check at start so that it
   * survives a restart (a reading stored but not acknowledged before a kill comes again).
   * Absent: the check starts empty.
   */
  sequenced?: SequencedReadings;
}

/**
 * Ingest: telemetry in, durable readings and observations out (DESIGN.md "Data-path invariants").
 * `accept(deviceId, payload)` resolves when the message may be acknowledged: its readings are
 * durable (group commit, ingest/group-commit.ts), or it was bad input, counted, logged at most
 * once per interval per device and dropped (it never blocks the devices behind it). The broker of
 * the same process calls it before it sends the PUBACK; in a process of its own, ingest
 * subscribes and MQTT.js sends the PUBACK to the broker when the callback is called.
 */
export function createIngest(deps: IngestDeps) {
  const { devices, metrics, mqtt } = deps;
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
    help: 'Telemetry messages left unacknowledged because ingest was stopping or the store did not take them, by error code',
    labelNames: ['code'],
    registers: [metrics],
  });
  const duplicates = new Counter({
    name: 'huewatch_ingest_duplicates_total',
    help: 'Readings dropped as duplicates: the same device, seq and measurements again (QoS 1 redelivery, store-and-forward retry); acknowledged',
    registers: [metrics],
  });
  const dedupe = new SeqDedupe(deps.dedupe);
  const commit = createGroupCommit({ write: (rows) => deps.store.writeReadings(rows), log, metrics, ...deps.commit });
  const sink = createReadingSink({
    commit,
    ...(deps.observe ? { observe: deps.observe } : {}),
    ...(deps.bus ? { bus: deps.bus } : {}),
    onPublishError: (err) => badLog.warn('obs-publish', { err: String(err) }, 'observation not published (the reading is stored)'),
    now,
  });

  // The device → station map changes rarely: cached briefly, so the hot path makes no store round
  // trip. The cache holds the lookup itself, so messages that wait on one keep their order.
  const deviceCache = new Map<string, { rec: DeviceRecord | undefined; lookup: Promise<DeviceRecord | undefined> | undefined; at: number }>();
  const DEVICE_CACHE_MS = 30_000;
  function cached(id: string) {
    let hit = deviceCache.get(id);
    if (!hit || now() - hit.at >= DEVICE_CACHE_MS) {
      if (deviceCache.size > 10_000) deviceCache.clear();
      const entry = { rec: undefined as DeviceRecord | undefined, lookup: undefined as Promise<DeviceRecord | undefined> | undefined, at: now() };
      entry.lookup = devices.getDevice(id).then(
        (rec) => { entry.rec = rec; entry.lookup = undefined; return rec; },
        (err: unknown) => { deviceCache.delete(id); throw err; },
      );
      deviceCache.set(id, entry);
      hit = entry;
    }
    return hit;
  }

  // the device learns why on its errors topic: at most once a second, so bad input is no flood of errors
  const lastTold = new Map<string, number>();
  function drop(code: ErrorCode, device: string, topic: string, problem: string): undefined {
    dropped.inc({ code, device });
    badLog.warn(device, { code, device, topic, problem }, 'telemetry dropped');
    const at = now();
    if (deps.bus && at - (lastTold.get(device) ?? 0) >= 1_000) {
      if (lastTold.size > 10_000) lastTold.clear();
      lastTold.set(device, at);
      deps.bus.publishAsync(topics.deviceErrors(device), deviceErrorPayload(code, problem, topic, at), { qos: 0 }).catch(() => undefined);
    }
    return undefined;
  }

  let taking = false;
  let stopped = false;
  // A message that arrives between the broker's start and ingest's waits for it, unacknowledged
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => { markStarted = resolve; });

  function take(deviceId: string, device: DeviceRecord | undefined, payload: Buffer | string, topic: string): Promise<unknown> | undefined {
    if (!device || device.disabled) return drop(ErrorCode.DEVICE_UNKNOWN, deviceId, topic, 'device is not registered');
    // VMS trackers and AIS receivers publish on vms/ and ais/ (the broker refuses them telemetry);
    // a second check here, for brokers without our ACL: telemetry from them is no station's
    if (!isStationDevice(device)) return drop(ErrorCode.DEVICE_UNKNOWN, deviceId, topic, `device is registered as ${device.station}, not for a station`);
    const at = now();
    const decoded = decodeTelemetry(payload, { now: at });
    if (!decoded.ok) return drop(decoded.code, deviceId, topic, decoded.problem);
    return takeNew(deviceId, device.station, decoded.readings, at);
  }

  /**
   * Readings sent before (same device, seq and measurements) are dropped; the message is
   * acknowledged once their originals are durable, so a PUBACK still means stored.
   */
  function takeNew(deviceId: string, station: string, readings: Reading[], at: number): Promise<unknown> | undefined {
    let fresh = readings;
    let originals: Array<Promise<unknown>> | undefined;
    for (let i = 0; i < readings.length; i++) {
      const dup = dedupe.duplicateOf(deviceId, readings[i]!, at);
      if (!dup) {
        if (originals) fresh.push(readings[i]!);
        continue;
      }
      if (!originals) {
        originals = [];
        fresh = readings.slice(0, i);
      }
      originals.push(dup.durable);
    }
    if (originals) {
      duplicates.inc(originals.length);
      badLog.warn(`dup:${deviceId}`, { device: deviceId, duplicates: originals.length }, 'readings received again (same seq and measurements): acknowledged, not stored twice');
    }
    const durable = fresh.length > 0 ? sink(deviceId, station, fresh) : undefined;
    if (durable) dedupe.remember(deviceId, fresh, at, durable);
    if (!originals) return durable;
    return Promise.all(durable ? [durable, ...originals] : originals);
  }

  /** The duplicate check from the store: what was stored with a seq within its window. */
  async function warmDedupe(): Promise<void> {
    if (!deps.sequenced) return;
    const at = now();
    try {
      const rows = await deps.sequenced.sequencedSince(at - dedupe.windowMs, dedupe.capacity);
      // one reading per (device, seq, ts): its metrics were stored as rows
      const byReading = new Map<string, { device: string; reading: Reading }>();
      for (const r of rows) {
        const key = `${r.device}\u0000${r.seq}\u0000${r.ts}`;
        let hit = byReading.get(key);
        if (!hit) byReading.set(key, (hit = { device: r.device, reading: { ts: r.ts, seq: r.seq, values: {} } }));
        hit.reading.values[r.metric] = r.value;
      }
      // oldest first, so the bounds keep the newest; stamped with the reading's ts (its receive time, for one sent without)
      for (const { device, reading } of [...byReading.values()].sort((a, b) => a.reading.ts - b.reading.ts)) {
        dedupe.remember(device, [reading], Math.min(reading.ts, at));
      }
      log.info({ readings: byReading.size }, 'duplicate check warmed from the store');
    } catch (err) {
      log.warn({ err: String(err) }, 'duplicate check not warmed: the store did not answer; a reading sent again before the restart may be stored twice');
    }
  }

  /**
   * A device's telemetry message; resolves when it may be acknowledged. Rejects only while
   * stopping (GroupCommitClosedError): the message is then not acknowledged, and comes again.
   */
  function accept(deviceId: string, payload: Buffer | string, topic: string): Promise<unknown> | undefined {
    if (!taking) {
      if (stopped) return Promise.reject(new GroupCommitClosedError());
      return started.then(() => accept(deviceId, payload, topic));
    }
    received.inc();
    const hit = cached(deviceId);
    if (!hit.lookup) return take(deviceId, hit.rec, payload, topic);
    return hit.lookup.then((rec) => take(deviceId, rec, payload, topic));
  }

  // MQTT 3.1.1 has no negative ack: an unacknowledged QoS 1 message stays in the broker's session
  // and comes again only when the session resumes [MQTT-4.4.0-1]. So once ingest could not take
  // a message, drop the connection after a pause; the client reconnects with clean=false and the
  // broker resends everything it has not had a PUBACK for, in order.
  let redeliverTimer: NodeJS.Timeout | undefined;
  const redeliverLater = () => {
    redeliverTimer ??= setTimeout(() => {
      redeliverTimer = undefined;
      if (!taking) return;
      log.warn('reconnecting so the broker redelivers unstored messages');
      mqtt?.stream?.destroy();
    }, deps.redeliverAfterMs ?? 5_000);
    redeliverTimer.unref?.();
  };

  const filter = deps.shareGroup ? `$share/${deps.shareGroup}/${subscriptions.allTelemetry}` : subscriptions.allTelemetry;

  async function subscribe(client: MqttClient): Promise<void> {
    client.handleMessage = (packet, callback) => {
      const parsed = parseTopic(packet.topic);
      // not ours: the subscription is narrower than this
      const taken = parsed?.kind === 'telemetry' ? accept(parsed.id, packet.payload as Buffer, packet.topic) : undefined;
      if (!taken) return callback();
      taken.then(
        () => callback(),
        (err: unknown) => {
          const code = (err as { code?: string }).code ?? ErrorCode.INTERNAL;
          storeFailures.inc({ code });
          badLog.warn(`store:${code}`, { err: String(err), code, topic: packet.topic }, 'telemetry not stored (not acknowledged: the broker keeps it)');
          callback(err as Error);
          redeliverLater();
        },
      );
    };
    if (!client.connected) {
      // created with manualConnect: connect only now that the handler above is in place, or the
      // messages a resumed session delivers first would be acked by MQTT.js' default handler
      // without being stored (seen as lost readings after a SIGKILL of ingest)
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => { client.off('connect', onConnect); reject(err); };
        const onConnect = () => { client.off('error', onError); resolve(); };
        client.once('connect', onConnect).once('error', onError);
        client.connect();
      });
    }
    await client.subscribeAsync(filter, { qos: 1 });
    log.info({ filter }, 'ingest subscribed');
  }

  return {
    accept,
    /** for other sources of readings (the Modbus poller): the same normalise → observe → commit path */
    sink,
    get pendingRows() {
      return commit.pendingRows;
    },
    async start(): Promise<void> {
      if (taking || stopped) return;
      await warmDedupe();
      taking = true;
      markStarted();
      if (mqtt) await subscribe(mqtt);
    },
    /** Takes no more messages, then waits until what it took is durable (their PUBACKs go out). */
    async stop(): Promise<void> {
      if (stopped) return;
      taking = false;
      stopped = true;
      markStarted(); // whoever waited for the start is refused now
      clearTimeout(redeliverTimer);
      redeliverTimer = undefined;
      if (mqtt?.connected) await mqtt.unsubscribeAsync(filter).catch(() => undefined);
      await commit.close();
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
