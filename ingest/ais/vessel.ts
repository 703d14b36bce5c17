import type { DecodedAis } from './decoder.ts';

/**
 * AIS messages → what the vessel registry keeps: positions (types 1, 2, 3, 18, 19) and static
 * data (5, 19, 24). Base stations (4) and aids to navigation (21) are not vessels. A message with
 * no usable position (lat 91 / lon 181) yields no position, only its static part if it has one.
 */

export interface AisPosition {
  mmsi: number;
  /** receive time, epoch ms (the message carries only the UTC second) */
  ts: number;
  lat: number;
  lon: number;
  sog?: number;
  cog?: number;
  heading?: number;
  navStatus?: number;
  /** 'A' (types 1–3) or 'B' (18, 19) */
  aisClass: 'A' | 'B';
}

export interface AisStatic {
  mmsi: number;
  ts: number;
  name?: string;
  callsign?: string;
  imo?: number;
  shiptype?: number;
  /** bow + stern, metres, when both are reported */
  lengthM?: number;
  destination?: string;
}

export function toVesselData(d: DecodedAis, ts: number): { position?: AisPosition; static?: AisStatic } {
  const m = d.message;
  const out: { position?: AisPosition; static?: AisStatic } = {};
  if (m.type === 1 || m.type === 2 || m.type === 3 || m.type === 18 || m.type === 19) {
    if (m.lat !== undefined && m.lon !== undefined) {
      out.position = {
        mmsi: m.mmsi, ts, lat: m.lat, lon: m.lon, sog: m.sog, cog: m.cog, heading: m.heading,
        navStatus: 'navStatus' in m ? m.navStatus : undefined, aisClass: m.type <= 3 ? 'A' : 'B',
      };
    }
  }
  const len = (dm: { toBow: number; toStern: number } | undefined) => (dm && dm.toBow > 0 && dm.toStern > 0 ? dm.toBow + dm.toStern : undefined);
  if (m.type === 5) {
    out.static = { mmsi: m.mmsi, ts, name: m.shipname || undefined, callsign: m.callsign || undefined, imo: m.imo, shiptype: m.shiptype, lengthM: len(m.dimensions), destination: m.destination || undefined };
  } else if (m.type === 19) {
    out.static = { mmsi: m.mmsi, ts, name: m.shipname || undefined, shiptype: m.shiptype, lengthM: len(m.dimensions) };
  } else if (m.type === 24) {
    out.static = m.part === 'A'
      ? { mmsi: m.mmsi, ts, name: m.shipname || undefined }
      : { mmsi: m.mmsi, ts, callsign: m.callsign || undefined, shiptype: m.shiptype, lengthM: len(m.dimensions) };
  }
  return out;
}
