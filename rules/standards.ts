import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The Vietnamese standards the rules build in (config/vn-standards.json): rain classes and
 * intensity warnings of the hydro-meteorological service, and VN_AQI of Decision 1459/QĐ-TCMT.
 * Validated once at start and frozen; passed in as an argument (no singleton).
 */
const bp = z.array(z.number().nullable()).length(8);
const rainClass = z.object({ name: z.string(), vi: z.string().optional(), min: z.number(), max: z.number().nullable() }).loose();
const standardsFile = z.object({
  rainfall: z.object({
    classes_24h_mm: z.array(rainClass),
    classes_12h_mm: z.array(rainClass),
    intensity_warnings: z.array(z.object({ window_h: z.number(), mm: z.number() })),
  }).loose(),
  vn_aqi: z.object({
    breakpoints: z.object({ I: bp, o3_1h: bp, o3_8h: bp, co: bp, so2: bp, no2: bp, pm10: bp, pm25: bp }),
    categories: z.array(z.object({ min: z.number(), max: z.number(), name: z.string(), vi: z.string(), rgb: z.tuple([z.number(), z.number(), z.number()]) })).min(1),
  }).loose(),
  forest_fire_danger: z.object({
    observation_hour_local: z.number().int().min(0).max(23),
    reset_rain_mm: z.number().positive(),
    levels: z.array(z.object({ level: z.number().int(), roman: z.string(), p_min: z.number(), p_max: z.number().nullable(), vi: z.string(), en: z.string(), colour: z.string() })).length(5),
  }).loose(),
}).loose();

export type Standards = z.infer<typeof standardsFile>;
export type FireLevel = Standards['forest_fire_danger']['levels'][number];
export type AqiCategory = Standards['vn_aqi']['categories'][number];

export const DEFAULT_STANDARDS_FILE = new URL('../config/vn-standards.json', import.meta.url).pathname;

export function loadStandards(file: string = DEFAULT_STANDARDS_FILE): Standards {
  return Object.freeze(standardsFile.parse(JSON.parse(readFileSync(file, 'utf8'))));
}
