import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * gpsd's AIS regression cases (test/fixtures/ais, BSD-2, GPSD-COPYING) and one comparison of a
 * decoder's output against them, shared by the unit test and the evaluation of npm decoders.
 */

export interface GpsdCase {
  sentences: string[];
  expected: Record<string, unknown> & { type: number; mmsi: number };
}

export const GPSD_VECTORS = fileURLToPath(new URL('../../test/fixtures/ais/gpsd-vectors.jsonl', import.meta.url));
/** The types HueWatch needs (issue: vessels), in the order of the README table. */
export const EVALUATED_TYPES = [1, 2, 3, 4, 5, 18, 19, 21, 24] as const;

export function loadGpsdCases(path = GPSD_VECTORS): GpsdCase[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as GpsdCase);
}

/**
 * What a decoder produced, in gpsd's field names and units; `undefined` = not available or absent.
 * A decoder that returns null for "not available" is right: gpsd's sentinel (lat 91…) and
 * `undefined` compare equal.
 */
export interface Normalised {
  type?: number;
  mmsi?: number;
  lat?: number;
  lon?: number;
  speed?: number;
  course?: number;
  heading?: number;
  status?: number;
  shipname?: string;
  callsign?: string;
  shiptype?: number;
  imo?: number;
  destination?: string;
  draught?: number;
  to_bow?: number;
  to_stern?: number;
  to_port?: number;
  to_starboard?: number;
  mothership_mmsi?: number;
  aid_type?: number;
  name?: string;
  /** 24 only: 0 = part A, 1 = part B */
  partno?: number;
}

const SENTINEL: Record<string, number> = { lat: 91, lon: 181, speed: 102.3, course: 360, heading: 511 };
const TOLERANCE: Record<string, number> = { lat: 1e-6, lon: 1e-6, speed: 0.05, course: 0.05, draught: 0.05 };
const DIMS = ['to_bow', 'to_stern', 'to_port', 'to_starboard'] as const;

/** The fields compared per type: what a vessel tracker uses from each message. */
export function fieldsFor(type: number, partno?: number, expected?: Record<string, unknown>): readonly string[] {
  switch (type) {
    case 1:
    case 2:
    case 3:
      return ['mmsi', 'status', 'lat', 'lon', 'speed', 'course', 'heading'];
    case 4:
      return ['mmsi', 'lat', 'lon'];
    case 5:
      return ['mmsi', 'imo', 'callsign', 'shipname', 'shiptype', 'destination', 'draught', ...DIMS];
    case 18:
      return ['mmsi', 'lat', 'lon', 'speed', 'course', 'heading'];
    case 19:
      return ['mmsi', 'lat', 'lon', 'speed', 'course', 'heading', 'shipname', 'shiptype', ...DIMS];
    case 21:
      return ['mmsi', 'aid_type', 'name', 'lat', 'lon', ...DIMS];
    case 24:
      if (partno === 0) return ['mmsi', 'shipname'];
      return ['mmsi', 'shiptype', 'callsign', ...(expected && 'mothership_mmsi' in expected ? ['mothership_mmsi'] : DIMS)];
    default:
      return ['mmsi'];
  }
}

function norm(field: string, v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  // gpsd prints out-of-range values as they came (a type 4 at lat 109°); they are not positions either.
  if (field === 'lat' && typeof v === 'number' && Math.abs(v) > 90) return undefined;
  if (field === 'lon' && typeof v === 'number' && Math.abs(v) > 180) return undefined;
  // M.1371 table 48: heading 0–359, 511 not available; 360–510 are invalid, hence not available too.
  if (field === 'heading' && typeof v === 'number' && v > 359) return undefined;
  if (typeof v === 'number' && SENTINEL[field] !== undefined && Math.abs(v - SENTINEL[field]) < 1e-9) return undefined;
  if (field === 'imo' && v === 0) return undefined;
  if (field === 'draught' && v === 0) return undefined;
  if (typeof v === 'string') return v.replace(/@.*$/, '').trimEnd();
  return v;
}

/** The fields that differ (empty = the case passes). */
export function compare(c: GpsdCase, got: Normalised | undefined): string[] {
  if (!got) return ['<nothing decoded>'];
  const exp = c.expected;
  if (got.type !== exp.type) return [`type ${String(got.type)} ≠ ${exp.type}`];
  const partno = exp.type === 24 ? (got.partno ?? (typeof exp.shipname === 'string' && !('callsign' in exp) ? 0 : 1)) : undefined;
  const bad: string[] = [];
  for (const f of fieldsFor(exp.type, partno, exp)) {
    // gpsd's "normalised" cases (its daemon logs) carry draught unscaled, in decimetres.
    const raw = f === 'draught' && exp.scaled === 'normalised' && typeof exp[f] === 'number' ? (exp[f] as number) / 10 : exp[f];
    const e = norm(f, raw);
    const g = norm(f, (got as Record<string, unknown>)[f]);
    const tol = TOLERANCE[f];
    const same = tol !== undefined && typeof e === 'number' && typeof g === 'number' ? Math.abs(e - g) <= tol : e === g;
    if (!same) bad.push(`${f}: got ${JSON.stringify(g)} want ${JSON.stringify(e)}`);
  }
  return bad;
}

import type { AisMessage, Dimensions } from './messages.ts';

const dims = (d: Dimensions | undefined) => (d ? { to_bow: d.toBow, to_stern: d.toStern, to_port: d.toPort, to_starboard: d.toStarboard } : {});

/** Our decoder's message in gpsd's field names. */
export function normaliseOurs(m: AisMessage): Normalised {
  const base = { type: m.type, mmsi: m.mmsi };
  switch (m.type) {
    case 1:
    case 2:
    case 3:
      return { ...base, status: m.navStatus, lat: m.lat, lon: m.lon, speed: m.sog, course: m.cog, heading: m.heading };
    case 4:
      return { ...base, lat: m.lat, lon: m.lon };
    case 5:
      return { ...base, imo: m.imo, callsign: m.callsign, shipname: m.shipname, shiptype: m.shiptype, destination: m.destination, draught: m.draught, ...dims(m.dimensions) };
    case 18:
      return { ...base, lat: m.lat, lon: m.lon, speed: m.sog, course: m.cog, heading: m.heading };
    case 19:
      return { ...base, lat: m.lat, lon: m.lon, speed: m.sog, course: m.cog, heading: m.heading, shipname: m.shipname, shiptype: m.shiptype, ...dims(m.dimensions) };
    case 21:
      return { ...base, aid_type: m.aidType, name: m.name, lat: m.lat, lon: m.lon, ...dims(m.dimensions) };
    case 24:
      return m.part === 'A'
        ? { ...base, partno: 0, shipname: m.shipname }
        : { ...base, partno: 1, shiptype: m.shiptype, callsign: m.callsign, mothership_mmsi: m.mothershipMmsi, ...dims(m.dimensions) };
  }
}
