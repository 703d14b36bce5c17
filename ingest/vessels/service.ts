import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ErrorCode } from '../../contract/errors.ts';
import { TOPIC_ROOT, parseTopic } from '../../contract/topics.ts';
import { decodeVms } from '../../contract/vms.ts';
import { AIS_DROP_REASONS, AisDecoder } from '../ais/decoder.ts';
import { toVesselData } from '../ais/vessel.ts';
import { LatestPositions } from './latest.ts';
import { MemoryVesselTrackStore } from './memory-tracks.ts';
import type { BBox, VesselInfo } from './model.ts';
import type { VesselPosition, VesselTrackStore } from '../../store/types.ts';
import type { VesselRegistry } from './registry.ts';

export const VESSEL_SUBSCRIPTIONS = [`${TOPIC_ROOT}/ais/+`, `${TOPIC_ROOT}/vms/+`] as const;
/** A VMS fix further ahead of the receive clock than this is refused (tracker clock wrong). */
export const MAX_FUTURE_MS = 5 * 60_000;
/** AIS receivers publish a few lines at a time; a message this large is not a receiver's. */
export const MAX_AIS_MESSAGE_BYTES = 64 * 1024;

export interface VesselIngestDeps {
  /** its own connection, logged in as the `ingest` service account (it sets `handleMessage`) */
  mqtt: MqttClient;
  /** where tracks are kept; default in memory */
  store?: VesselTrackStore;
  registry: VesselRegistry;
  log: Logger;
  metrics: Registry;
  clock?: { now(): number };
  shareGroup?: string;
  fragmentTimeoutMs?: number;
}

export interface VesselIngestEvents {
  /** a vessel's newest fix (older, late fixes are stored but not emitted) */
  position: [VesselPosition];
}

/** What the API reads: the live map and the stored tracks. */
export interface VesselQuery {
  list(filter?: { bbox?: BBox; since?: number }): Array<VesselPosition & { info: VesselInfo }>;
  get(vesselId: string): { info: VesselInfo; position: VesselPosition | undefined } | undefined;
  track(vesselId: string, from: number, to: number, limit?: number): Promise<VesselPosition[]>;
}

/**
 * Vessel ingest: AIS receiver text (`huewatch/v1/ais/{receiverId}`) and VMS JSON
 * (`huewatch/v1/vms/{vesselId}`) in; positions stored, kept on the live map and emitted to the
 * geofence rules. A QoS 1 message is acknowledged after its positions are stored (as in ingest.ts).
 * Bad input is counted by reason and dropped; it never throws into the MQTT client loop.
 */
export function createVesselIngest(deps: VesselIngestDeps) {
  const { mqtt, registry, metrics } = deps;
  const log = deps.log.child({ module: 'vessel-ingest' });
  const clock = deps.clock ?? Date;
  const store = deps.store ?? new MemoryVesselTrackStore();
  const latest = new LatestPositions(registry);
  const events = new EventEmitter<VesselIngestEvents>();

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (metrics.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [metrics] });
  const m = {
    sentences: counter('huewatch_ais_sentences_total', 'AIS sentences received'),
    aisDropped: counter('huewatch_ais_dropped_total', 'AIS sentences dropped, by reason', ['reason']),
    vmsDropped: counter('huewatch_vms_dropped_total', 'VMS reports dropped, by error code', ['code']),
    positions: counter('huewatch_vessel_positions_total', 'Vessel positions accepted, by source', ['source']),
    statics: counter('huewatch_ais_static_total', 'AIS static reports accepted'),
  };
  for (const r of AIS_DROP_REASONS) m.aisDropped.inc({ reason: r }, 0);
  const vesselsGauge = (metrics.getSingleMetric('huewatch_vessels_live') as Gauge | undefined) ??
    new Gauge({ name: 'huewatch_vessels_live', help: 'Vessels on the live map', registers: [metrics], collect() { this.set(latest.size); } });
  void vesselsGauge;

  const decoder = new AisDecoder({ fragmentTimeoutMs: deps.fragmentTimeoutMs, onDrop: (reason, n) => m.aisDropped.inc({ reason }, n) });

  async function accept(rows: VesselPosition[]): Promise<void> {
    if (rows.length === 0) return;
    await store.append(rows);
    for (const p of rows) {
      m.positions.inc({ source: p.source });
      if (!latest.update(p)) continue;
      try {
        events.emit('position', p);
      } catch (err) {
        // one failing listener (a rule) must not lose the others' positions
        log.error({ err, vesselId: p.vesselId }, 'position listener failed');
      }
    }
  }

  /** Decodes and stores one MQTT message; exported for the bench (no broker in the loop). */
  async function handle(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic);
    if (!parsed) return;
    const now = clock.now();
    if (parsed.kind === 'ais') {
      if (payload.length > MAX_AIS_MESSAGE_BYTES) return void m.aisDropped.inc({ reason: 'garbage' });
      const before = decoder.counts.sentences;
      const decoded = decoder.feed(payload.toString('latin1'), now, parsed.id);
      m.sentences.inc(decoder.counts.sentences - before);
      const rows: VesselPosition[] = [];
      for (const d of decoded) {
        const v = toVesselData(d, now);
        if (v.static) {
          latest.updateStatic(registry.idForMmsi(v.static.mmsi), v.static);
          m.statics.inc();
        }
        if (v.position) {
          const { mmsi, ts, lat, lon, sog, cog, heading } = v.position;
          rows.push({ vesselId: registry.idForMmsi(mmsi), mmsi, ts, lat, lon, sog, cog, heading, source: 'ais' });
        }
      }
      return accept(rows);
    }
    if (parsed.kind === 'vms') {
      const vessel = registry.byId(parsed.id);
      if (!vessel) return void m.vmsDropped.inc({ code: ErrorCode.DEVICE_UNKNOWN });
      const r = decodeVms(payload);
      if (!r.ok) {
        m.vmsDropped.inc({ code: r.code });
        log.warn({ topic, code: r.code, problem: r.problem }, 'VMS report dropped');
        return;
      }
      if (r.report.ts > now + MAX_FUTURE_MS) return void m.vmsDropped.inc({ code: ErrorCode.TS_FUTURE });
      const { ts, lat, lon, sog, cog } = r.report;
      return accept([{ vesselId: vessel.id, mmsi: vessel.mmsi, ts, lat, lon, sog, cog, source: 'vms' }]);
    }
  }

  const filters = VESSEL_SUBSCRIPTIONS.map((f) => (deps.shareGroup ? `$share/${deps.shareGroup}/${f}` : f));
  let expiry: NodeJS.Timeout | undefined;
  let started = false;

  const query: VesselQuery = {
    list(filter = {}) {
      return latest.list(filter).map((p) => ({ ...p, info: latest.info(p.vesselId)! }));
    },
    get(vesselId) {
      const info = latest.info(vesselId);
      return info && { info, position: latest.get(vesselId) };
    },
    track: (vesselId, from, to, limit) => store.track(vesselId, from, to, limit),
  };

  return {
    events,
    query,
    latest,
    decoder,
    handle,
    async start(): Promise<void> {
      if (started) return;
      started = true;
      // warm the live map from the store, so a restart does not show an empty sea
      for (const p of await store.latestAll()) latest.update(p);
      mqtt.handleMessage = (packet, callback) => {
        handle(packet.topic, packet.payload as Buffer).then(
          () => callback(),
          (err: unknown) => {
            log.error({ err, topic: packet.topic }, 'vessel positions not stored');
            callback(err as Error);
          },
        );
      };
      await mqtt.subscribeAsync(filters.map((f) => f), { qos: 1 });
      expiry = setInterval(() => decoder.expire(clock.now()), 5_000).unref();
      log.info({ filters }, 'vessel ingest subscribed');
    },
    async stop(): Promise<void> {
      if (!started) return;
      started = false;
      clearInterval(expiry);
      await mqtt.unsubscribeAsync(filters).catch(() => undefined);
    },
  };
}
export type VesselIngest = ReturnType<typeof createVesselIngest>;
