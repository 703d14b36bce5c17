import type { AqiCategory, Standards } from './standards.ts';

/**
 * VN_AQI, Decision 1459/QĐ-TCMT (2019) of the Vietnam Environment Administration: pure arithmetic
 * over the breakpoint table of config/vn-standards.json (all concentrations µg/m³, CO included).
 *
 *   AQI_x = (I_{i+1} − I_i) / (BP_{i+1} − BP_i) × (C_x − BP_i) + I_i,   BP_i ≤ C_x ≤ BP_{i+1}
 *
 * The AQI is the largest sub-index, rounded to an integer, and needs PM10 or PM2.5.
 */

export type Pollutant = 'pm25' | 'pm10' | 'o3_1h' | 'o3_8h' | 'co' | 'so2' | 'no2';
type Table = Standards['vn_aqi']['breakpoints'];

/** The sub-index of one pollutant (unrounded); undefined where the table has no segment (O3 8 h above 400). */
export function subIndex(table: Table, pollutant: Pollutant, c: number): number | undefined {
  const bp = table[pollutant];
  const I = table.I;
  if (!(c >= 0)) return undefined;
  for (let i = 0; i < bp.length - 1; i++) {
    const lo = bp[i];
    const hi = bp[i + 1];
    if (lo === null || lo === undefined) return undefined;
    if (hi === null || hi === undefined) return undefined; // O3 8 h above its last breakpoint: the 1 h index applies
    if (c <= hi) return ((I[i + 1]! - I[i]!) / (hi - lo)) * (c - lo) + I[i]!;
  }
  // Beyond the last breakpoint the last segment is extended: the category stays "hazardous".
  const n = bp.length - 1;
  const [lo, hi] = [bp[n - 1]!, bp[n]!];
  return ((I[n]! - I[n - 1]!) / (hi - lo)) * (c - lo) + I[n - 1]!;
}

/**
 * NowCast of hourly PM (Decision 1459, hourly AQI): c[0] is the current hour, c[11] eleven hours
 * back, undefined where the hour has no data. w* = c_min / c_max over the 12 hours, w = max(w*, ½),
 * NowCast = Σ w^(i−1)·c_i / Σ w^(i−1) over the hours present. Needs 2 of the 3 latest hours.
 * (For w = ½ the Decision writes Σ (½)^i·c_i, the same weighted mean when all 12 hours are present
 * up to the factor 1 − 2⁻¹²; the weighted form also holds when hours are missing.)
 */
export function nowcast(c: ReadonlyArray<number | undefined>): number | undefined {
  // loops rather than slice/filter: this runs on every air observation (same arithmetic, in order)
  const n = Math.min(c.length, 12);
  let recent = 0;
  for (let i = 0; i < Math.min(n, 3); i++) if (c[i] !== undefined) recent++;
  if (recent < 2) return undefined;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const x = c[i];
    if (x === undefined) continue;
    max = Math.max(max, x);
    min = Math.min(min, x);
  }
  const w = max <= 0 ? 1 : Math.max(min / max, 0.5);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const x = c[i];
    if (x === undefined) continue;
    num += w ** i * x;
    den += w ** i;
  }
  return num / den;
}

export interface AqiResult {
  aqi: number;
  /** the pollutant whose sub-index is the AQI */
  dominant: Pollutant;
  subIndices: Partial<Record<Pollutant, number>>;
}

/** Largest rounded sub-index; undefined without PM10 or PM2.5 (Decision 1459: one is required). */
export function combine(table: Table, concentrations: Partial<Record<Pollutant, number>>): AqiResult | undefined {
  if (concentrations.pm25 === undefined && concentrations.pm10 === undefined) return undefined;
  const subIndices: Partial<Record<Pollutant, number>> = {};
  let best: { aqi: number; dominant: Pollutant } | undefined;
  for (const [p, c] of Object.entries(concentrations) as Array<[Pollutant, number | undefined]>) {
    if (c === undefined) continue;
    const x = subIndex(table, p, c);
    if (x === undefined) continue;
    subIndices[p] = Math.round(x);
    if (!best || Math.round(x) > best.aqi) best = { aqi: Math.round(x), dominant: p };
  }
  return best && { ...best, subIndices };
}

/** Hourly means per pollutant, c[0] = current hour (window.ts `hourlyMeans`). */
export type HourlySeries = Partial<Record<'pm25' | 'pm10' | 'o3' | 'co' | 'so2' | 'no2', ReadonlyArray<number | undefined>>>;

/** Hourly VN_AQI: NowCast for PM, the current hour's mean for O3 (1 h table), CO, SO2, NO2. */
export function hourlyAqi(table: Table, h: HourlySeries): AqiResult | undefined {
  return combine(table, {
    pm25: h.pm25 && nowcast(h.pm25),
    pm10: h.pm10 && nowcast(h.pm10),
    o3_1h: h.o3?.[0],
    co: h.co?.[0],
    so2: h.so2?.[0],
    no2: h.no2?.[0],
  });
}

export interface DailyInputs {
  /** 24 h means */
  pm25?: number;
  pm10?: number;
  /** the day's largest 1 h means */
  o3_1h_max?: number;
  co_1h_max?: number;
  so2_1h_max?: number;
  no2_1h_max?: number;
  /** the day's largest 8 h rolling mean of O3 */
  o3_8h_max?: number;
}

/**
 * Daily VN_AQI: PM from 24 h means; SO2, NO2, CO from the day's largest hourly mean; O3 from the
 * larger of its 8 h index and its 1 h index, the 8 h index dropping out above 400 µg/m³ where the
 * table has no segment (Decision 1459: "use the 1-hour O3 index").
 */
export function dailyAqi(table: Table, d: DailyInputs): AqiResult | undefined {
  return combine(table, { pm25: d.pm25, pm10: d.pm10, o3_1h: d.o3_1h_max, o3_8h: d.o3_8h_max, co: d.co_1h_max, so2: d.so2_1h_max, no2: d.no2_1h_max });
}

/** Category and colour by AQI (0–50 good … 301–500 hazardous; above 500 stays hazardous). */
export function category(categories: readonly AqiCategory[], aqi: number): AqiCategory {
  return categories.find((c) => aqi <= c.max) ?? categories.at(-1)!;
}
