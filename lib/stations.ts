import { z } from 'zod';
import { ErrorCode } from '../contract/errors.ts';
import type { Station } from '../contract/station.ts';
import { describeProblems, parseYamlSource, readSource, type SourceProblem } from './yaml-source.ts';

/**
 * The station catalogue, read from the Huế reference file (config/hue-stations.json, copied from
 * the hydro-met reference data; STATIONS_FILE). The platform and the simulator load it here; the
 * type every layer sees is contract/station.ts.
 */
const point = { id: z.string(), name: z.string(), lat: z.number(), lon: z.number(), district: z.string().min(1).optional() };
const referenceFile = z.object({
  river_stations: z.array(z.object({ ...point, river: z.string(), commune: z.string(), alarm_levels_m: z.record(z.string(), z.number()) }).loose()),
  rain_gauges: z.array(z.object(point).loose()),
  air_quality_stations: z.array(z.object(point).loose()),
  reservoirs: z.array(z.object({ ...point, river: z.string(), normal_level_m: z.number().optional(), dead_level_m: z.number().optional() }).loose()),
  /** automatic weather stations of the forested districts (forest-fire danger); alerts speak for the district */
  weather_stations: z.array(z.object({ ...point, district: z.string().min(1) }).loose()).default([]),
});

/** A catalogue that cannot be used: each problem with its place in the file (`file:line:col path: message`). */
export class StationFileError extends Error {
  readonly code = ErrorCode.CONFIG_INVALID;
  constructor(file: string, readonly problems: readonly SourceProblem[]) {
    super(describeProblems('station catalogue', file, problems));
    this.name = 'StationFileError';
  }
}

export function loadStations(file: string): Station[] {
  const source = readSource(file);
  if ('problem' in source) throw new StationFileError(file, [source.problem]);
  // JSON is YAML: the YAML reader keeps positions, so a mistake is named with its line
  const src = parseYamlSource(source.text, file);
  if (src.syntaxErrors.length > 0) throw new StationFileError(file, src.syntaxErrors);
  const parsed = referenceFile.safeParse(src.data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) src.reportIssue(issue);
    throw new StationFileError(file, src.sorted());
  }
  const ref = parsed.data;
  const district = (s: { district?: string | undefined }) => (s.district ? { district: s.district } : {});
  return [
    ...ref.river_stations.map((s) => ({ id: s.id, name: s.name, kind: 'river' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.commune, ...district(s), alarmLevels: s.alarm_levels_m, river: s.river })),
    ...ref.rain_gauges.map((s) => ({ id: s.id, name: s.name, kind: 'rain' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.name, ...district(s), alarmLevels: {} })),
    ...ref.air_quality_stations.map((s) => ({ id: s.id, name: s.name, kind: 'air' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.name, ...district(s), alarmLevels: {} })),
    ...ref.reservoirs.map((s) => ({ id: s.id, name: s.name, kind: 'reservoir' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.name, ...district(s), alarmLevels: {}, river: s.river })),
    ...ref.weather_stations.map((s) => ({ id: s.id, name: s.name, kind: 'weather' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.district, district: s.district, alarmLevels: {} })),
  ];
}

export const DEFAULT_STATIONS_FILE = new URL('../config/hue-stations.json', import.meta.url).pathname;
