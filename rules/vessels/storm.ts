import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
import { point, polygon } from '@turf/helpers';
import type { Feature, Polygon } from 'geojson';
import { z } from 'zod';
import { timestamp } from '../../contract/telemetry.ts';
import type { Fix, VesselTransition } from './geofence.ts';
import { distanceM } from './zones.ts';

/**
 * Storm danger areas declared by an operator (from the hydro-met service's storm bulletin): a
 * polygon or a circle, valid for a period. One alert per area lists the vessels inside; it is
 * updated as vessels enter and leave, and ends when the area is empty or its validity ends.
 */
export const stormArea = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
    name: z.string().min(1),
    validFrom: timestamp,
    validTo: timestamp,
    /** [lon, lat] ring, GeoJSON order, closed */
    polygon: z.array(z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)])).min(4).optional(),
    circle: z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180), radiusKm: z.number().positive().max(2000) }).optional(),
  })
  .refine((a) => (a.polygon ? 1 : 0) + (a.circle ? 1 : 0) === 1, 'give exactly one of polygon or circle')
  .refine((a) => a.validTo > a.validFrom, 'validTo must be after validFrom')
  .refine((a) => !a.polygon || (a.polygon[0]![0] === a.polygon.at(-1)![0] && a.polygon[0]![1] === a.polygon.at(-1)![1]), 'polygon ring must be closed');
export type StormAreaInput = z.input<typeof stormArea>;
export type StormArea = z.output<typeof stormArea>;

/**
 * The vessel rules' state in the StateStore, so a restart neither forgets an open alert nor raises
 * it again: keys `vessel/{id}`, `storm/{id}` (`{ area, state }`) and `alert/{key}` (the key's last
 * event). The API reads the storm areas from it (GET /api/v1/storm-areas).
 */
export const VESSEL_RULE_STATE_NAMESPACE = 'vessel-rule-state';

export interface StormState {
  /** vessel ids inside, sorted */
  inside: string[];
  active: boolean;
}
export const initialStormState = (): StormState => ({ inside: [], active: false });

const shapes = new WeakMap<StormArea, Feature<Polygon>>();
export function inStormArea(area: StormArea, p: { lat: number; lon: number }): boolean {
  if (area.circle) return distanceM(area.circle, p) <= area.circle.radiusKm * 1000;
  let poly = shapes.get(area);
  if (!poly) shapes.set(area, (poly = polygon([area.polygon!])));
  return booleanPointInPolygon(point([p.lon, p.lat]), poly);
}

const isValid = (a: StormArea, t: number) => t >= a.validFrom && t < a.validTo;

function transition(area: StormArea, inside: string[], ts: number): VesselTransition {
  return { kind: 'storm-area', level: inside.length > 0 ? 1 : 0, ts, value: inside.length, threshold: 1, where: area.id, whereName: area.name, vessels: inside };
}

/** A vessel's fix may move it in or out of the area; a change of the list is a transition. */
export function evaluateStormFix(area: StormArea, s: StormState, fix: Fix): { state: StormState; transition?: VesselTransition } {
  const wasIn = s.inside.includes(fix.vesselId);
  const isIn = isValid(area, fix.ts) && inStormArea(area, fix);
  if (wasIn === isIn) return { state: s };
  const inside = isIn ? [...s.inside, fix.vesselId].sort() : s.inside.filter((v) => v !== fix.vesselId);
  if (!s.active && inside.length === 0) return { state: { inside, active: false } };
  return { state: { inside, active: inside.length > 0 }, transition: transition(area, inside, fix.ts) };
}

/** On the clock: an area past its validity ends its alert. */
export function evaluateStormTick(area: StormArea, s: StormState, now: number): { state: StormState; transition?: VesselTransition } {
  if (now < area.validTo || !s.active) return { state: s };
  return { state: { inside: [], active: false }, transition: transition(area, [], now) };
}
