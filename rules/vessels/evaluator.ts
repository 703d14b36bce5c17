import { randomUUID } from 'node:crypto';
import { alertEvent, type AlertEvent } from '../../contract/alert.ts';
import type { VesselPosition } from '../../store/types.ts';
import type { VesselRegistry } from '../../ingest/vessels/registry.ts';
import {
  defaultVesselRuleConfig, evaluateBoundary, evaluateProtected, evaluateZone, signalOnFix, signalOnTick,
  type BoundaryState, type ProtectedState, type SignalState, type VesselRuleConfig, type VesselTransition, type ZoneState,
} from './geofence.ts';
import { evaluateStormFix, evaluateStormTick, initialStormState, stormArea, type StormArea, type StormAreaInput, type StormState } from './storm.ts';
import type { SeaZones } from './zones.ts';
import { vesselAlertTexts } from './alert-text.ts';

/**
 * The vessel rules, together: per-vessel state for each kind, transitions turned into alert events
 * (contract/alert.ts, CAP core) with one lifecycle per key: Alert, Updates, Cancel. In memory and
 * synchronous; the caller publishes the events (as the rules service account: the only writer of
 * `huewatch/v1/alerts/#`) and may persist `snapshot()`.
 */

/** Alerts at sea are published under this area code: `huewatch/v1/alerts/sea-tth/{key}`. */
export const SEA_AREA_CODE = 'sea-tth';

export interface VesselRulesOptions {
  zones: SeaZones;
  registry: VesselRegistry;
  config?: VesselRuleConfig;
  clock: { now(): number };
  /** length of a vessel not in the register (from AIS static data), when known */
  lengthOf?(vesselId: string): number | undefined;
}

export interface PerVessel {
  boundary: BoundaryState;
  zone: ZoneState;
  protected: ProtectedState;
  signal: SignalState;
}

/**
 * The rules' whole state, plain JSON: per-vessel states, storm areas with theirs, and the last
 * event of each alert key (an open alert, or a Cancel kept until it is known to be stored).
 */
export interface VesselRulesState {
  vessels: Record<string, PerVessel>;
  storms: Record<string, { area: StormArea; state: StormState }>;
  alerts: Record<string, AlertEvent>;
}

/** What changed since the last takeChanges(): `null` means removed. */
export interface VesselRulesChanges {
  vessels: Map<string, PerVessel>;
  storms: Map<string, { area: StormArea; state: StormState } | null>;
  alerts: Map<string, AlertEvent>;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function createVesselRules(opts: VesselRulesOptions) {
  const { zones, registry, clock } = opts;
  const cfg = opts.config ?? defaultVesselRuleConfig();
  const vessels = new Map<string, PerVessel>();
  const storms = new Map<string, { area: StormArea; state: StormState }>();
  const open = new Map<string, AlertEvent>();
  // for persistence: what changed since the last takeChanges()
  let dirty: VesselRulesChanges = { vessels: new Map(), storms: new Map(), alerts: new Map() };
  const clone = <T>(v: T): T => structuredClone(v);

  const stateOf = (id: string): PerVessel => {
    let s = vessels.get(id);
    if (!s) vessels.set(id, (s = { boundary: { alerting: false }, zone: {}, protected: {}, signal: { level: 0 } }));
    return s;
  };

  function keyOf(t: VesselTransition): string {
    switch (t.kind) {
      case 'storm-area':
        return `storm-area:${t.where}`;
      case 'zone':
        return `vessel-zone:${t.vesselId}`;
      case 'protected-area':
        return `vessel-protected:${t.vesselId}`;
      case 'boundary':
        return `vessel-iuu:${t.vesselId}`;
      case 'signal-loss':
        return `vessel-signal:${t.vesselId}`;
    }
  }

  function toEvent(t: VesselTransition): AlertEvent | undefined {
    const key = keyOf(t);
    const prev = open.get(key);
    if (t.level === 0 && !prev) return undefined;
    const now = clock.now();
    const sent = isoSeconds(now);
    const vessel = t.vesselId ? registry.byId(t.vesselId) : undefined;
    const texts = vesselAlertTexts(t, vessel);
    const ev = alertEvent.parse({
      ...(prev ? { id: prev.id, eventSeq: prev.eventSeq + 1, firstSent: prev.firstSent } : { id: randomUUID(), eventSeq: 1, firstSent: sent }),
      ...(t.level === 0
        ? { msgType: 'Cancel', status: 'resolved', severity: 'Minor', urgency: 'Past', expires: null }
        : { msgType: prev ? 'Update' : 'Alert', status: prev?.status ?? 'active', severity: texts.severity, urgency: 'Immediate', expires: null }),
      key,
      event: texts.event,
      category: t.kind === 'storm-area' ? 'Met' : 'Safety',
      certainty: 'Observed',
      level: t.level,
      ...(t.level > 0 ? { levelName: texts.levelName } : {}),
      headline: texts.headline,
      description: texts.description,
      instruction: texts.instruction,
      area: {
        name: texts.areaName,
        codes: [SEA_AREA_CODE],
        ...(t.lat !== undefined && t.lon !== undefined ? { circle: { lat: t.lat, lon: t.lon, radiusKm: 1 } } : {}),
      },
      source: { station: t.vesselId ?? t.where ?? 'sea', metric: t.kind, value: Math.round(t.value * 100) / 100, threshold: t.threshold, observedAt: new Date(t.ts).toISOString() },
      sent,
    });
    if (t.level === 0) open.delete(key);
    else open.set(key, ev);
    dirty.alerts.set(key, ev);
    return ev;
  }

  function collect(ts: Array<VesselTransition | undefined>): AlertEvent[] {
    const out: AlertEvent[] = [];
    for (const t of ts) {
      const e = t && toEvent(t);
      if (e) out.push(e);
    }
    return out;
  }

  return {
    /** Evaluates every rule kind on a vessel's newest fix. */
    onPosition(p: VesselPosition): AlertEvent[] {
      const s = stateOf(p.vesselId);
      const fix = { vesselId: p.vesselId, ts: p.ts, lat: p.lat, lon: p.lon, sog: p.sog };
      const length = registry.byId(p.vesselId)?.lengthM ?? opts.lengthOf?.(p.vesselId);
      const b = evaluateBoundary(cfg, zones, s.boundary, fix);
      const z = evaluateZone(cfg, zones, s.zone, fix, length);
      const pr = evaluateProtected(zones, s.protected, fix);
      const sg = signalOnFix(s.signal, fix);
      Object.assign(s, { boundary: b.state, zone: z.state, protected: pr.state, signal: sg.state });
      dirty.vessels.set(p.vesselId, clone(s));
      const ts: Array<VesselTransition | undefined> = [b.transition, z.transition, pr.transition, sg.transition];
      for (const st of storms.values()) {
        const r = evaluateStormFix(st.area, st.state, fix);
        if (r.state !== st.state) dirty.storms.set(st.area.id, clone({ area: st.area, state: r.state }));
        st.state = r.state;
        ts.push(r.transition);
      }
      return collect(ts);
    },

    /** Time-driven kinds: VMS signal loss of registered VMS vessels, storm areas expiring. */
    tick(now = clock.now()): AlertEvent[] {
      const ts: Array<VesselTransition | undefined> = [];
      for (const [id, s] of vessels) {
        if (!registry.byId(id)?.vms) continue;
        const r = signalOnTick(cfg, zones, s.signal, id, now);
        if (r.state !== s.signal) dirty.vessels.set(id, clone({ ...s, signal: r.state }));
        s.signal = r.state;
        ts.push(r.transition);
      }
      for (const [id, st] of storms) {
        const r = evaluateStormTick(st.area, st.state, now);
        if (r.state !== st.state) dirty.storms.set(id, clone({ area: st.area, state: r.state }));
        st.state = r.state;
        ts.push(r.transition);
        if (now >= st.area.validTo) {
          storms.delete(id);
          dirty.storms.set(id, null);
        }
      }
      return collect(ts);
    },

    /**
     * Declares (or replaces) a storm danger area. Vessels are placed by their next fix; pass
     * `positions` (the live map) to place them at once.
     */
    declareStorm(input: StormAreaInput, positions: readonly VesselPosition[] = []): { area: StormArea; events: AlertEvent[] } {
      const area = stormArea.parse(input);
      const prev = storms.get(area.id);
      const st = { area, state: prev?.state ?? initialStormState() };
      storms.set(area.id, st);
      const ts: Array<VesselTransition | undefined> = [];
      const now = clock.now();
      for (const p of positions) {
        const r = evaluateStormFix(area, st.state, { vesselId: p.vesselId, ts: now, lat: p.lat, lon: p.lon });
        st.state = r.state;
        ts.push(r.transition);
      }
      dirty.storms.set(area.id, clone(st));
      return { area, events: collect(ts) };
    },

    removeStorm(id: string): AlertEvent[] {
      const st = storms.get(id);
      if (!st) return [];
      storms.delete(id);
      dirty.storms.set(id, null);
      return collect([st.state.active ? { kind: 'storm-area', level: 0, ts: clock.now(), value: 0, threshold: 1, where: id, whereName: st.area.name, vessels: [] } : undefined]);
    },

    stormVessels(id: string): string[] | undefined {
      return storms.get(id)?.state.inside;
    },

    openAlerts(): AlertEvent[] {
      return [...open.values()];
    },

    /** What changed since the last call (copies), for the caller to persist; resets the record. */
    takeChanges(): VesselRulesChanges {
      const out = dirty;
      dirty = { vessels: new Map(), storms: new Map(), alerts: new Map() };
      return out;
    },

    /** The whole state, plain JSON (a copy). */
    exportState(): VesselRulesState {
      return clone({
        vessels: Object.fromEntries(vessels),
        storms: Object.fromEntries(storms),
        alerts: Object.fromEntries(open),
      });
    },

    /**
     * Replaces the state with a saved one (at start, before the first fix). Alerts that are no
     * longer open (a Cancel, or an operator's resolve) are not kept; storm areas are validated again.
     */
    importState(saved: Partial<VesselRulesState>): void {
      vessels.clear();
      storms.clear();
      open.clear();
      for (const [id, s] of Object.entries(saved.vessels ?? {})) vessels.set(id, clone(s));
      for (const [id, st] of Object.entries(saved.storms ?? {})) storms.set(id, { area: stormArea.parse(st.area), state: clone(st.state) });
      for (const [key, ev] of Object.entries(saved.alerts ?? {})) {
        if (ev.status === 'active' || ev.status === 'acknowledged') open.set(key, clone(ev));
      }
      dirty = { vessels: new Map(), storms: new Map(), alerts: new Map() };
    },
  };
}
export type VesselRules = ReturnType<typeof createVesselRules>;
