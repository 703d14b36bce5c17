import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import { ID_PATTERN } from '../../contract/topics.ts';

/**
 * The vessel register (config/vessels.yaml): MMSI, registration, name, length, home port and the
 * licensed fishing zone. Validated once at load, every problem listed by path, then frozen.
 */

/** Registration numbers `TTH-90123-TS`: province code, serial, `TS` (tàu cá, Circular 23/2018/TT-BNNPTNT). */
export const REGISTRATION = /^[A-Z]{2,3}-\d{4,5}-TS$/;
/** Zone ids of config/hue-sea-zones.geojson. */
export const FISHING_ZONES = ['zone-coastal', 'zone-inshore', 'zone-offshore'] as const;
export type FishingZone = (typeof FISHING_ZONES)[number];

export const vesselEntry = z.strictObject({
  id: z.string().regex(REGISTRATION, 'must look like TTH-90123-TS').regex(ID_PATTERN),
  /** 9 digits; absent for a vessel with VMS and no AIS */
  mmsi: z.number().int().min(100_000_000).max(999_999_999).optional(),
  name: z.string().min(1),
  lengthM: z.number().positive().max(150),
  homePort: z.string().min(1),
  licensedZone: z.enum(FISHING_ZONES),
  /** carries a VMS tracker (compulsory from 15 m: Decree 26/2019/NĐ-CP art. 44) */
  vms: z.boolean().default(false),
});
export const vesselFile = z.strictObject({ version: z.literal(1), vessels: z.array(vesselEntry) });
export type VesselEntry = z.output<typeof vesselEntry>;

/** Which zone a length class may fish in; the bands come from the zones' own properties. */
export function zoneForLength(lengthM: number): FishingZone {
  return lengthM < 12 ? 'zone-coastal' : lengthM < 15 ? 'zone-inshore' : 'zone-offshore';
}

export class VesselRegistryError extends Error {
  readonly code = ErrorCode.CONFIG_INVALID;
}

export interface VesselRegistry {
  readonly vessels: readonly VesselEntry[];
  byId(id: string): VesselEntry | undefined;
  byMmsi(mmsi: number): VesselEntry | undefined;
  /** The vessel id of an AIS station: the registration when registered, else `mmsi-{mmsi}`. */
  idForMmsi(mmsi: number): string;
}

export function parseVesselRegistry(text: string, ports: readonly string[], source = 'vessels.yaml'): VesselRegistry {
  const r = vesselFile.safeParse(parse(text));
  const problems: string[] = [];
  if (!r.success) for (const i of r.error.issues) problems.push(`${source} ${i.path.join('.')}: ${i.message}`);
  const vessels = r.success ? r.data.vessels : [];
  const seen = new Map<string | number, number>();
  vessels.forEach((v, i) => {
    for (const key of [v.id, ...(v.mmsi ? [v.mmsi] : [])]) {
      if (seen.has(key)) problems.push(`${source} vessels.${i}: ${key} already used by vessels.${seen.get(key)}`);
      seen.set(key, i);
    }
    if (!ports.includes(v.homePort)) problems.push(`${source} vessels.${i}.homePort: unknown port "${v.homePort}" (known: ${ports.join(', ')})`);
    if (zoneForLength(v.lengthM) !== v.licensedZone) problems.push(`${source} vessels.${i}.licensedZone: a ${v.lengthM} m vessel may not be licensed for ${v.licensedZone}`);
  });
  if (problems.length) throw new VesselRegistryError(problems.join('\n'));
  const ids = new Map(vessels.map((v) => [v.id, Object.freeze(v)]));
  const mmsis = new Map(vessels.filter((v) => v.mmsi).map((v) => [v.mmsi!, ids.get(v.id)!]));
  return Object.freeze({
    vessels: Object.freeze([...ids.values()]),
    byId: (id: string) => ids.get(id),
    byMmsi: (mmsi: number) => mmsis.get(mmsi),
    idForMmsi: (mmsi: number) => mmsis.get(mmsi)?.id ?? `mmsi-${mmsi}`,
  });
}

export function loadVesselRegistry(path: string, ports: readonly string[]): VesselRegistry {
  return parseVesselRegistry(readFileSync(path, 'utf8'), ports, path);
}
