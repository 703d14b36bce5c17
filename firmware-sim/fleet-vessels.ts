import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { topics } from '../contract/topics.ts';
import type { VmsPayload } from '../contract/vms.ts';
import type { VesselEntry } from '../ingest/vessels/registry.ts';
import { encodeType1, encodeType18, encodeType24, encodeType5, toSentences } from './ais-encode.ts';
import { planVoyages, voyageAt, type Voyage } from './vessel-voyages.ts';

/**
 * A simulated fishing fleet over MQTT: one AIS shore receiver publishing NMEA lines for every
 * vessel in range (`huewatch/v1/ais/{receiverId}`) and one VMS tracker per vessel that carries one
 * (`huewatch/v1/vms/{vesselId}`, logged in as that vessel). Class A (15 m and over) sends types 1
 * and 5, class B types 18 and 24. Voyages come from vessel-voyages.ts.
 */

/** the simulated fleet's AIS shore receiver (a device like any other) */
export const SIM_AIS_RECEIVER = 'sim-ais-rx-thuan-an';

/**
 * The devices the simulated fleet logs in as, to be registered like real ones: the shore receiver,
 * then the VMS tracker of each vessel that carries one (its device id is the registration number).
 */
export function simFleetDevices(vessels: readonly VesselEntry[]): Array<{ id: string; vessel?: string }> {
  return [{ id: SIM_AIS_RECEIVER }, ...vessels.filter((v) => v.vms).map((v) => ({ id: v.id, vessel: v.id }))];
}

export interface VesselFleetOptions {
  url: string;
  receiverId: string;
  /** the MQTT secret of a device id (the receiver and each VMS vessel are devices) */
  secretOf(deviceId: string): string;
  vessels: readonly VesselEntry[];
  ports: ReadonlyArray<{ id: string; lat: number; lon: number }>;
  /** real ms between reports */
  intervalMs: number;
  /** simulated seconds per real second */
  speed: number;
  log: Logger;
  clock?: { now(): number };
  mqttOptions?: IClientOptions;
}

/** Static reports once every this many position reports (M.1371: every 6 min vs every 2–10 s). */
const STATIC_EVERY = 10;

/** The AIS lines of one report round of the fleet at simulated second `s` (pure: also used by tests). */
export function aisLinesAt(voyages: readonly Voyage[], s: number, round: number): string[] {
  const lines: string[] = [];
  voyages.forEach((v, i) => {
    const f = voyageAt(v, s);
    if (!f.transmitting || !v.vessel.mmsi) return;
    const classA = v.vessel.lengthM >= 15;
    const p = { mmsi: v.vessel.mmsi, lat: f.lat, lon: f.lon, sog: f.sog, cog: f.cog, heading: Math.round(f.cog), second: Math.floor(s) % 60, navStatus: f.phase === 'fishing' ? 7 : 0 };
    lines.push(...toSentences(classA ? encodeType1(p) : encodeType18(p), { channel: i % 2 ? 'B' : 'A' }));
    if (round % STATIC_EVERY === i % STATIC_EVERY) {
      const st = { mmsi: v.vessel.mmsi, name: ascii(v.vessel.name), callsign: `XV${v.vessel.id.slice(4, 9)}`, lengthM: v.vessel.lengthM, shiptype: 30 };
      if (classA) lines.push(...toSentences(encodeType5(st), { seqId: round % 10, channel: 'A' }));
      else for (const w of encodeType24(st)) lines.push(...toSentences(w, { channel: 'B' }));
    }
  });
  return lines;
}

/** AIS text is 6-bit ASCII: Vietnamese letters lose their marks (Thuận An → THUAN AN). */
export function ascii(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toUpperCase();
}

export interface VesselFleet {
  readonly voyages: readonly Voyage[];
  stop(): Promise<void>;
}

export async function startVesselFleet(opts: VesselFleetOptions): Promise<VesselFleet> {
  const clock = opts.clock ?? Date;
  const log = opts.log.child({ module: 'fleet-vessels' });
  const voyages = planVoyages(opts.vessels, opts.ports);
  const base = { protocolVersion: 4 as const, reconnectPeriod: 1000, connectTimeout: 5000, ...opts.mqttOptions };
  const connect = async (id: string) => {
    const c = await connectAsync(opts.url, { ...base, username: id, password: opts.secretOf(id), clientId: id }); // the broker admits a device only under its own id
    // refused later (its secret rotated, or disabled: `huewatch device …`): an 'error' without a
    // listener would end the process; the others sail on, and this one is named once
    let told = false;
    c.on('error', (err) => {
      if (!told) log.warn({ deviceId: id, err: err.message }, 'simulated device refused by the broker: retrying');
      told = true;
    });
    return c;
  };
  const receiver = await connect(opts.receiverId);
  const vms = new Map<string, MqttClient>();
  for (const v of voyages) if (v.vessel.vms) vms.set(v.vessel.id, await connect(v.vessel.id));
  const epoch = clock.now();
  let round = 0;
  const tick = () => {
    const s = ((clock.now() - epoch) / 1000) * opts.speed;
    const lines = aisLinesAt(voyages, s, round);
    if (lines.length) receiver.publish(topics.ais(opts.receiverId), lines.join('\r\n'), { qos: 0 });
    for (const v of voyages) {
      const c = vms.get(v.vessel.id);
      const f = voyageAt(v, s);
      if (!c || !f.transmitting) continue;
      const payload: VmsPayload = { ts: clock.now(), lat: round6(f.lat), lon: round6(f.lon), sog: f.sog, cog: Math.round(f.cog * 10) / 10 };
      c.publish(topics.vms(v.vessel.id), JSON.stringify(payload), { qos: 1 });
    }
    round++;
  };
  tick();
  const timer = setInterval(tick, opts.intervalMs);
  log.info({ vessels: voyages.length, vms: vms.size, speed: opts.speed }, 'vessel fleet started');
  return {
    voyages,
    async stop() {
      clearInterval(timer);
      // one refused by the broker holds its queued QoS 1 fixes for ever: it is not waited for
      await Promise.allSettled([receiver, ...vms.values()].map((c) => c.endAsync(!c.connected)));
      log.info('vessel fleet stopped');
    },
  };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
