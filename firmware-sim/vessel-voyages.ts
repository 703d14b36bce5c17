import type { VesselEntry } from '../ingest/vessels/registry.ts';

/**
 * The fleet scenario, pure: where each simulated vessel is at a simulated time. Vessels leave
 * Thuận An and Tư Hiền one after another, sail to their fishing ground, fish (slow, circling),
 * and sail home. Roles make the alerts happen: one goes dark (its trackers fall silent at sea),
 * one crosses the outer boundary, several fish inside the storm area `STORM_AREA`.
 */

export type Role = 'normal' | 'goes-dark' | 'crosses-boundary' | 'in-storm';

export interface Voyage {
  vessel: VesselEntry;
  role: Role;
  port: { lat: number; lon: number };
  ground: { lat: number; lon: number };
  /** simulated seconds after the start when it leaves port */
  departS: number;
  /** hours spent fishing on the ground */
  fishH: number;
}

export interface SimFix {
  lat: number;
  lon: number;
  /** knots */
  sog: number;
  /** degrees true */
  cog: number;
  phase: 'in-port' | 'outbound' | 'fishing' | 'inbound';
  /** false once a dark vessel has gone silent */
  transmitting: boolean;
}

const TRANSIT_KN = 8;
const NM_PER_DEG_LAT = 60;

/** A storm danger area over the offshore grounds (used by the simulator and the tests). */
export const STORM_AREA = {
  id: 'storm-sim',
  name: 'Vùng nguy hiểm bão (mô phỏng)',
  polygon: [[107.95, 16.85], [108.45, 16.85], [108.45, 17.25], [107.95, 17.25], [107.95, 16.85]] as Array<[number, number]>,
};

/** Fishing grounds by role and licensed zone ([lon, lat] inside the zones of config/hue-sea-zones.geojson). */
const GROUNDS: Record<string, Array<{ lat: number; lon: number }>> = {
  'zone-coastal': [{ lon: 107.72, lat: 16.53 }, { lon: 107.95, lat: 16.45 }],
  'zone-inshore': [{ lon: 107.85, lat: 16.65 }, { lon: 108.05, lat: 16.55 }],
  'zone-offshore': [{ lon: 107.9, lat: 17.2 }, { lon: 108.3, lat: 16.95 }],
  'in-storm': [{ lon: 108.1, lat: 17.0 }, { lon: 108.25, lat: 17.1 }, { lon: 108.2, lat: 16.95 }],
  'crosses-boundary': [{ lon: 108.2, lat: 17.5 }],
};

export function planVoyages(vessels: readonly VesselEntry[], ports: ReadonlyArray<{ id: string; lat: number; lon: number }>): Voyage[] {
  const offshore = vessels.filter((v) => v.licensedZone === 'zone-offshore');
  const roles = new Map<string, Role>();
  if (offshore[0]) roles.set(offshore[0].id, 'in-storm');
  if (offshore[1]) roles.set(offshore[1].id, 'goes-dark');
  if (offshore[2]) roles.set(offshore[2].id, 'crosses-boundary');
  if (offshore[3]) roles.set(offshore[3].id, 'in-storm');
  let storm = 0;
  return vessels.map((vessel, i) => {
    const role = roles.get(vessel.id) ?? 'normal';
    const port = ports.find((p) => p.id === vessel.homePort) ?? ports[0]!;
    const grounds = role === 'in-storm' || role === 'crosses-boundary' ? GROUNDS[role]! : GROUNDS[vessel.licensedZone]!;
    const ground = grounds[(role === 'in-storm' ? storm++ : i) % grounds.length]!;
    return { vessel, role, port, ground, departS: i * 600, fishH: 6 + (i % 3) };
  });
}

function legNm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dLat = (b.lat - a.lat) * NM_PER_DEG_LAT;
  const dLon = (b.lon - a.lon) * NM_PER_DEG_LAT * Math.cos(((a.lat + b.lat) / 2) * (Math.PI / 180));
  return Math.hypot(dLat, dLon);
}
function bearing(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dLat = b.lat - a.lat;
  const dLon = (b.lon - a.lon) * Math.cos(a.lat * (Math.PI / 180));
  return ((Math.atan2(dLon, dLat) * 180) / Math.PI + 360) % 360;
}
const lerp = (a: { lat: number; lon: number }, b: { lat: number; lon: number }, f: number) => ({ lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f });

/** Where a voyage is at simulated second `s`. A dark vessel stops transmitting 2 h into fishing. */
export function voyageAt(v: Voyage, s: number): SimFix {
  const legS = (legNm(v.port, v.ground) / TRANSIT_KN) * 3600;
  const fishS = v.fishH * 3600;
  const t = s - v.departS;
  const out = (p: { lat: number; lon: number }, sog: number, cog: number, phase: SimFix['phase']): SimFix => ({
    ...p, sog, cog, phase, transmitting: !(v.role === 'goes-dark' && t > legS + 2 * 3600),
  });
  if (t < 0) return out(v.port, 0, 0, 'in-port');
  if (t < legS) return out(lerp(v.port, v.ground, t / legS), TRANSIT_KN, bearing(v.port, v.ground), 'outbound');
  if (t < legS + fishS) {
    // slow circle of ~0.5 nm around the ground: trawling at 2–3 kn
    const a = ((t - legS) / 3600) * 2 * Math.PI * 0.5;
    const r = 0.5 / NM_PER_DEG_LAT;
    return out({ lat: v.ground.lat + r * Math.sin(a), lon: v.ground.lon + r * Math.cos(a) }, 2.5, (((a * 180) / Math.PI) + 360) % 360, 'fishing');
  }
  if (t < 2 * legS + fishS) return out(lerp(v.ground, v.port, (t - legS - fishS) / legS), TRANSIT_KN, bearing(v.ground, v.port), 'inbound');
  return out(v.port, 0, 0, 'in-port');
}
