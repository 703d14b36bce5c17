import { z } from 'zod';
import { boundarySide, fishingZoneAt, mayFishIn, portAt, protectedAreaAt, type SeaZones } from './zones.ts';

/**
 * Pure cores of the vessel geofence rule kinds, in the shape of rules/level.ts:
 * `evaluateX(cfg, zones, state, fix) → { state, transition? }`, plain-JSON state, time from the fix.
 * A transition with `level` 0 ends the alert; any other level raises (or updates) it.
 */

export const vesselRuleConfig = z.strictObject({
  /** GPS noise allowance: a fix this close to the boundary is "on" it, neither side (metres) */
  boundaryToleranceM: z.number().nonnegative().default(50),
  /** below this speed a vessel is taken to be fishing, above it to be passing through (knots) */
  fishingSpeedKn: z.number().positive().default(5),
  /** how long a vessel must fish in a forbidden zone before the alert (ms) */
  zoneHoldMs: z.number().nonnegative().default(30 * 60_000),
  /** a vessel within this distance of a port is in port (metres) */
  portRadiusM: z.number().positive().default(2_000),
  /** vn-standards.json vessel_monitoring: signal_loss_anomaly_h 6, signal_loss_return_to_port_days 10 */
  signalLossAnomalyMs: z.number().positive().default(6 * 3_600_000),
  signalLossReturnMs: z.number().positive().default(10 * 86_400_000),
});
export type VesselRuleConfig = z.output<typeof vesselRuleConfig>;
export const defaultVesselRuleConfig = (): VesselRuleConfig => vesselRuleConfig.parse({});

export interface Fix {
  vesselId: string;
  ts: number;
  lat: number;
  lon: number;
  sog?: number;
}

export interface VesselTransition {
  kind: 'zone' | 'boundary' | 'protected-area' | 'signal-loss' | 'storm-area';
  vesselId?: string;
  /** 0 = ended */
  level: number;
  ts: number;
  value: number;
  threshold: number;
  /** zone or area id, for texts */
  where?: string;
  whereName?: string;
  lat?: number;
  lon?: number;
  /** storm areas: the vessels inside, sorted */
  vessels?: string[];
}

// --- outer boundary (IUU) ---------------------------------------------------------------------

export interface BoundaryState {
  /** the last side the vessel was strictly on; fixes on the line do not change it */
  side?: 'inside' | 'beyond';
  alerting: boolean;
  lastTs?: number;
}

/**
 * Crossing the outer boundary outward raises; back strictly inside ends it. A track that touches
 * the line (within the tolerance) and turns back never raises. A vessel first seen beyond has
 * crossed unseen: that raises too.
 */
export function evaluateBoundary(cfg: VesselRuleConfig, zones: SeaZones, s: BoundaryState, fix: Fix): { state: BoundaryState; transition?: VesselTransition } {
  if (s.lastTs !== undefined && fix.ts <= s.lastTs) return { state: s };
  const { side, distanceM } = boundarySide(zones, fix, cfg.boundaryToleranceM);
  if (side === 'on') return { state: { ...s, lastTs: fix.ts } };
  const base = { kind: 'boundary' as const, vesselId: fix.vesselId, ts: fix.ts, threshold: 0, where: zones.boundary.id, whereName: zones.boundary.name, lat: fix.lat, lon: fix.lon };
  if (side === 'beyond' && !s.alerting) {
    return { state: { side, alerting: true, lastTs: fix.ts }, transition: { ...base, level: 1, value: distanceM() / 1852 } };
  }
  if (side === 'inside' && s.alerting) {
    return { state: { side, alerting: false, lastTs: fix.ts }, transition: { ...base, level: 0, value: 0 } };
  }
  return { state: { ...s, side, lastTs: fix.ts } };
}

// --- fishing zone by length class ---------------------------------------------------------------

export interface ZoneState {
  /** zone the vessel is fishing in without the right, and since when */
  pending?: { zone: string; since: number };
  alertZone?: string;
  lastTs?: number;
}

/**
 * A vessel slower than `fishingSpeedKn` in a zone its length class may not use (Decree 26/2019
 * art. 44: ≥ 15 m offshore only, 12–15 m inshore, < 12 m coastal), for `zoneHoldMs`, raises.
 * Passing through at speed, or sitting in port, does not count. Leaving the zone ends it.
 */
export function evaluateZone(cfg: VesselRuleConfig, zones: SeaZones, s: ZoneState, fix: Fix, lengthM: number | undefined): { state: ZoneState; transition?: VesselTransition } {
  if (lengthM === undefined || (s.lastTs !== undefined && fix.ts <= s.lastTs)) return { state: s };
  const zone = fishingZoneAt(zones, fix);
  const forbidden = zone && !mayFishIn(zone, lengthM) ? zone : undefined;
  const base = { kind: 'zone' as const, vesselId: fix.vesselId, ts: fix.ts, value: lengthM, lat: fix.lat, lon: fix.lon };
  if (s.alertZone) {
    if (forbidden?.id === s.alertZone) return { state: { ...s, lastTs: fix.ts } };
    const old = zones.fishingZones.find((z) => z.id === s.alertZone);
    return { state: { lastTs: fix.ts }, transition: { ...base, level: 0, threshold: old?.maxLengthM ?? old?.minLengthM ?? 0, where: s.alertZone, whereName: old?.name } };
  }
  const fishing = (fix.sog ?? 0) < cfg.fishingSpeedKn && !portAt(zones, fix, cfg.portRadiusM);
  if (!forbidden || !fishing) return { state: { lastTs: fix.ts } };
  const pending = s.pending?.zone === forbidden.id ? s.pending : { zone: forbidden.id, since: fix.ts };
  if (fix.ts - pending.since < cfg.zoneHoldMs) return { state: { pending, lastTs: fix.ts } };
  return {
    state: { alertZone: forbidden.id, lastTs: fix.ts },
    transition: { ...base, level: 1, threshold: lengthM < forbidden.minLengthM ? forbidden.minLengthM : (forbidden.maxLengthM ?? 0), where: forbidden.id, whereName: forbidden.name },
  };
}

// --- protected area -----------------------------------------------------------------------------

export interface ProtectedState {
  area?: string;
  lastTs?: number;
}

/** Entering a no-fishing area (Sơn Chà MPA) raises at once; leaving it ends the alert. */
export function evaluateProtected(zones: SeaZones, s: ProtectedState, fix: Fix): { state: ProtectedState; transition?: VesselTransition } {
  if (s.lastTs !== undefined && fix.ts <= s.lastTs) return { state: s };
  const area = protectedAreaAt(zones, fix);
  const base = { kind: 'protected-area' as const, vesselId: fix.vesselId, ts: fix.ts, threshold: 0, lat: fix.lat, lon: fix.lon };
  if (area?.id === s.area) return { state: { ...s, lastTs: fix.ts } };
  if (s.area && !area) {
    const old = zones.protectedAreas.find((a) => a.id === s.area);
    return { state: { lastTs: fix.ts }, transition: { ...base, level: 0, value: 0, where: s.area, whereName: old?.name } };
  }
  return { state: { area: area!.id, lastTs: fix.ts }, transition: { ...base, level: 1, value: 1, where: area!.id, whereName: area!.name } };
}

// --- VMS signal loss ----------------------------------------------------------------------------

export interface SignalState {
  lastFix?: { ts: number; lat: number; lon: number };
  /** 0 none, 1 anomaly (6 h at sea), 2 return to port (10 days) */
  level: number;
}

/** A new fix ends any signal-loss alert. */
export function signalOnFix(s: SignalState, fix: Fix): { state: SignalState; transition?: VesselTransition } {
  if (s.lastFix && fix.ts <= s.lastFix.ts) return { state: s };
  const state = { lastFix: { ts: fix.ts, lat: fix.lat, lon: fix.lon }, level: 0 };
  if (s.level === 0) return { state };
  return { state, transition: { kind: 'signal-loss', vesselId: fix.vesselId, level: 0, ts: fix.ts, value: (fix.ts - (s.lastFix?.ts ?? fix.ts)) / 3_600_000, threshold: 0, lat: fix.lat, lon: fix.lon } };
}

/**
 * The ladder, on the clock: silent for `signalLossAnomalyMs` at sea → level 1 (anomaly, the
 * owner must report position by other means every 6 h); for `signalLossReturnMs` → level 2 (the
 * vessel must return to port: Decree 26/2019 art. 44(4), amended by 37/2024). A vessel whose last
 * fix was in port is not lost: trackers are switched off in harbour.
 */
export function signalOnTick(cfg: VesselRuleConfig, zones: SeaZones, s: SignalState, vesselId: string, now: number): { state: SignalState; transition?: VesselTransition } {
  if (!s.lastFix || portAt(zones, s.lastFix, cfg.portRadiusM)) return { state: s };
  const gap = now - s.lastFix.ts;
  const level = gap >= cfg.signalLossReturnMs ? 2 : gap >= cfg.signalLossAnomalyMs ? 1 : 0;
  if (level <= s.level) return { state: s };
  return {
    state: { ...s, level },
    transition: {
      kind: 'signal-loss', vesselId, level, ts: now, value: gap / 3_600_000,
      threshold: (level === 2 ? cfg.signalLossReturnMs : cfg.signalLossAnomalyMs) / 3_600_000, lat: s.lastFix.lat, lon: s.lastFix.lon,
    },
  };
}
