import { readFileSync } from 'node:fs';
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
import { lineString, point, polygon } from '@turf/helpers';
import { pointToLineDistance } from '@turf/point-to-line-distance';
import type { Feature, LineString, Polygon } from 'geojson';
import { z } from 'zod';

/**
 * The sea geometry of the province (config/hue-sea-zones.geojson: coastline, fishing-zone bands,
 * the outer boundary of the permitted sea, protected areas, ports), loaded once and validated.
 * Geometry is the pure core of the vessel rules: no I/O after load, no clock.
 */

const position = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]);
const ring = z.array(position).min(4);
const feature = z.object({
  type: z.literal('Feature'),
  properties: z.looseObject({ id: z.string(), kind: z.string(), name: z.string().optional() }),
  geometry: z.discriminatedUnion('type', [
    z.object({ type: z.literal('Polygon'), coordinates: z.array(ring).min(1) }),
    z.object({ type: z.literal('LineString'), coordinates: z.array(position).min(2) }),
    z.object({ type: z.literal('Point'), coordinates: position }),
  ]),
});
const seaZonesFile = z.object({ type: z.literal('FeatureCollection'), features: z.array(feature) });

export interface FishingZoneGeo {
  id: string;
  name: string;
  /** Decree 26/2019/NĐ-CP length classes: min ≤ length < max (max null: no upper bound) */
  minLengthM: number;
  maxLengthM: number | null;
  polygon: Feature<Polygon>;
}
export interface AreaGeo {
  id: string;
  name: string;
  polygon: Feature<Polygon>;
}
export interface PortGeo {
  id: string;
  name: string;
  lat: number;
  lon: number;
}

export interface SeaZones {
  fishingZones: readonly FishingZoneGeo[];
  protectedAreas: readonly AreaGeo[];
  boundary: { id: string; name: string; line: Feature<LineString>; beyond: Feature<Polygon> };
  ports: readonly PortGeo[];
}

/** Seaward depth of the "beyond the boundary" polygon built from the boundary line, in degrees. */
const BEYOND_DEPTH_DEG = 3;

export function parseSeaZones(json: unknown): SeaZones {
  const fc = seaZonesFile.parse(json);
  const fishingZones: FishingZoneGeo[] = [];
  const protectedAreas: AreaGeo[] = [];
  const ports: PortGeo[] = [];
  let boundaryFeature: z.infer<typeof feature> | undefined;
  for (const f of fc.features) {
    const p = f.properties;
    const name = p.name ?? p.id;
    if (p.kind === 'fishing-zone' && f.geometry.type === 'Polygon') {
      const min = z.number().parse(p.allowed_min_length_m);
      const max = z.number().nullable().parse(p.allowed_max_length_m);
      fishingZones.push({ id: p.id, name, minLengthM: min, maxLengthM: max, polygon: polygon(f.geometry.coordinates) });
    } else if (p.kind === 'no-fishing' && f.geometry.type === 'Polygon') {
      protectedAreas.push({ id: p.id, name, polygon: polygon(f.geometry.coordinates) });
    } else if (p.kind === 'boundary' && f.geometry.type === 'LineString') {
      boundaryFeature = f;
    } else if (p.kind === 'port' && f.geometry.type === 'Point') {
      ports.push({ id: p.id.replace(/^port-/, ''), name, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] });
    }
  }
  if (!boundaryFeature || boundaryFeature.geometry.type !== 'LineString') throw new Error('sea zones: no boundary LineString');
  if (fishingZones.length === 0 || ports.length === 0) throw new Error('sea zones: fishing zones and ports are required');
  const coords = boundaryFeature.geometry.coordinates;
  return {
    fishingZones,
    protectedAreas,
    ports,
    boundary: { id: boundaryFeature.properties.id, name: boundaryFeature.properties.name ?? 'boundary', line: lineString(coords), beyond: beyondPolygon(coords, ports[0]!) },
  };
}

/**
 * The sea beyond the boundary: the boundary line closed by a band pushed seaward, i.e. away from
 * the coast (a port stands for the coast). A point strictly inside it is outside the permitted sea.
 */
function beyondPolygon(line: Array<[number, number]>, coastPoint: PortGeo): Feature<Polygon> {
  const a = line[0]!;
  const b = line[line.length - 1]!;
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const len = Math.hypot(dx, dy);
  let n: [number, number] = [-dy / len, dx / len];
  const mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] as const;
  if ((coastPoint.lon - mid[0]) * n[0] + (coastPoint.lat - mid[1]) * n[1] > 0) n = [-n[0], -n[1]];
  const far = (p: [number, number]): [number, number] => [p[0] + n[0] * BEYOND_DEPTH_DEG, p[1] + n[1] * BEYOND_DEPTH_DEG];
  return polygon([[...line, far(b), far(a), line[0]!]]);
}

export function loadSeaZones(path: string): SeaZones {
  return parseSeaZones(JSON.parse(readFileSync(path, 'utf8')));
}

// --- queries -----------------------------------------------------------------------------------

export interface LonLat {
  lat: number;
  lon: number;
}
const pt = (p: LonLat) => point([p.lon, p.lat]);

/** Bounding boxes, computed once per geometry: most fixes are far from most shapes. */
const boxes = new WeakMap<object, [number, number, number, number]>();
function bboxOf(f: Feature<Polygon> | Feature<LineString>): [number, number, number, number] {
  let b = boxes.get(f);
  if (!b) {
    const cs = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0]! : f.geometry.coordinates;
    b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of cs) b = [Math.min(b[0], x!), Math.min(b[1], y!), Math.max(b[2], x!), Math.max(b[3], y!)];
    boxes.set(f, b);
  }
  return b;
}
const inBox = (b: [number, number, number, number], p: LonLat, margin = 0) =>
  p.lon >= b[0] - margin && p.lon <= b[2] + margin && p.lat >= b[1] - margin && p.lat <= b[3] + margin;
const inPolygon = (poly: Feature<Polygon>, p: LonLat, ignoreBoundary = false) => inBox(bboxOf(poly), p) && booleanPointInPolygon(pt(p), poly, { ignoreBoundary });

export function fishingZoneAt(zones: SeaZones, p: LonLat): FishingZoneGeo | undefined {
  return zones.fishingZones.find((z) => inPolygon(z.polygon, p));
}

export function mayFishIn(zone: FishingZoneGeo, lengthM: number): boolean {
  return lengthM >= zone.minLengthM && (zone.maxLengthM === null || lengthM < zone.maxLengthM);
}

export function protectedAreaAt(zones: SeaZones, p: LonLat): AreaGeo | undefined {
  return zones.protectedAreas.find((a) => inPolygon(a.polygon, p));
}

export type BoundarySide = 'inside' | 'on' | 'beyond';

/**
 * Which side of the outer boundary a point is on. Within `toleranceM` of the line it is `on` the
 * line: GPS noise on a vessel that only touches the line must not read as a crossing.
 */
export function boundarySide(zones: SeaZones, p: LonLat, toleranceM: number): { side: BoundarySide; distanceM: () => number } {
  const distanceM = () => pointToLineDistance(pt(p), zones.boundary.line, { units: 'meters' });
  // Far outside the line's box (by more than the tolerance: 1° of latitude is 111 km) the distance
  // cannot be within the tolerance; only near the line is the geodesic distance worth computing.
  const marginDeg = toleranceM / 100_000 + 0.001;
  if (inBox(bboxOf(zones.boundary.line), p, marginDeg) && distanceM() <= toleranceM) return { side: 'on', distanceM };
  return { side: inPolygon(zones.boundary.beyond, p, true) ? 'beyond' : 'inside', distanceM };
}

/** Great-circle distance in metres (haversine; ample for harbour radii). */
export function distanceM(a: LonLat, b: LonLat): number {
  const R = 6_371_008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function portAt(zones: SeaZones, p: LonLat, radiusM: number): PortGeo | undefined {
  return zones.ports.find((port) => distanceM(port, p) <= radiusM);
}
