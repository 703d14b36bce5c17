import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The station catalogue, read from the Huế reference file (config/hue-stations.json, copied from
 * the hydro-met reference data). Every part that needs a station's name, place or area reads it
 * from here. Area codes are the codes alerts are published under (`huewatch/v1/alerts/{areaCode}/…`);
 * until the commune register is wired in, a station's area code is its own id.
 */
const point = { id: z.string(), name: z.string(), lat: z.number(), lon: z.number() };
const referenceFile = z.object({
  river_stations: z.array(z.object({ ...point, river: z.string(), commune: z.string(), alarm_levels_m: z.record(z.string(), z.number()) }).loose()),
  rain_gauges: z.array(z.object(point).loose()),
  air_quality_stations: z.array(z.object(point).loose()),
  reservoirs: z.array(z.object({ ...point, river: z.string(), normal_level_m: z.number().optional(), dead_level_m: z.number().optional() }).loose()),
});

export const stationKind = z.enum(['river', 'rain', 'air', 'reservoir']);
export type StationKind = z.infer<typeof stationKind>;

export interface Station {
  id: string;
  name: string;
  kind: StationKind;
  lat: number;
  lon: number;
  areaCode: string;
  areaName: string;
  /** river stations: flood alarm levels in metres by level number (Decision 05/2020/QĐ-TTg) */
  alarmLevels: Record<string, number>;
  river?: string;
}

export function loadStations(file: string): Station[] {
  const ref = referenceFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  const stations: Station[] = [
    ...ref.river_stations.map((s) => ({ id: s.id, name: s.name, kind: 'river' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.commune, alarmLevels: s.alarm_levels_m, river: s.river })),
    ...ref.rain_gauges.map((s) => ({ id: s.id, name: s.name, kind: 'rain' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.name, alarmLevels: {} })),
    ...ref.air_quality_stations.map((s) => ({ id: s.id, name: s.name, kind: 'air' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.name, alarmLevels: {} })),
    ...ref.reservoirs.map((s) => ({ id: s.id, name: s.name, kind: 'reservoir' as const, lat: s.lat, lon: s.lon, areaCode: s.id, areaName: s.name, alarmLevels: {}, river: s.river })),
  ];
  return stations;
}

export const DEFAULT_STATIONS_FILE = new URL('../config/hue-stations.json', import.meta.url).pathname;
