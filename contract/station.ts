import { z } from 'zod';

/**
 * A station of the catalogue, as every layer sees it: the rules (alarm levels, area), the API and
 * the simulator. Loaded from the deployment's reference file by platform/stations.ts. Area codes
 * are the codes alerts are published under (`huewatch/v1/alerts/{areaCode}/…`); until the commune
 * register is wired in, a station's area code is its own id.
 */
/** weather: automatic weather stations of the forested districts (forest-fire danger) */
export const stationKind = z.enum(['river', 'rain', 'air', 'reservoir', 'weather']);
export type StationKind = z.infer<typeof stationKind>;

export const station = z.object({
  id: z.string(),
  name: z.string(),
  kind: stationKind,
  lat: z.number(),
  lon: z.number(),
  areaCode: z.string(),
  areaName: z.string(),
  /** river stations: flood alarm levels in metres by level number (Decision 05/2020/QĐ-TTg) */
  alarmLevels: z.record(z.string(), z.number()),
  river: z.string().optional(),
  /** the district (huyện, thị xã, thành phố) by its official name: residents choose alert areas by it */
  district: z.string().optional(),
});
export type Station = z.infer<typeof station>;
