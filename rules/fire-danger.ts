import { saturationHpa } from '../lib/psychrometry.ts';
import { vnDate, vnMidnight } from '../lib/vietnam-time.ts';
import type { SeriesPoint, TimeSeriesStore } from '../store/types.ts';

/**
 * Forest-fire danger as Vietnam's forest rangers compute it: the cumulative Nesterov index
 *
 *   P = Σ T13 × d13   over the days since the last day with at least `resetRainMm` of rain,
 *
 * T13 the air temperature at 13:00 (°C) and d13 the saturation deficit at 13:00 (hPa: saturation
 * vapour pressure at T13 minus the actual vapour pressure, from the relative humidity or the dew
 * point), mapped to the five national danger levels I–V (config/vn-standards.json
 * `forest_fire_danger`, with its sources). A day whose rain reaches the threshold sets P back to 0.
 *
 * Computed from stored readings only (hourly means and sums over the look-back), never from state
 * kept in memory: a restart, or a late reading stored since, gives the same P for the same data.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface FireScale {
  /** a day with at least this much rain (mm) sets P back to 0 */
  resetRainMm: number;
  /** local hour of the observation the index is computed from (13:00) */
  hour: number;
  /** lower bound of P for levels II, III, IV and V (level I below the first) */
  levelFrom: readonly [number, number, number, number];
}

/** d13: the saturation deficit, hPa, from relative humidity (%) or, failing that, the dew point (°C). */
export function deficitHpa(tC: number, humidity: { rh?: number | undefined; dewPoint?: number | undefined }): number | undefined {
  const es = saturationHpa(tC);
  if (humidity.rh !== undefined) return Math.max(0, es * (1 - Math.min(100, Math.max(0, humidity.rh)) / 100));
  if (humidity.dewPoint !== undefined) return Math.max(0, es - saturationHpa(Math.min(humidity.dewPoint, tC)));
  return undefined;
}

export function levelOfP(p: number, scale: Pick<FireScale, 'levelFrom'>): 1 | 2 | 3 | 4 | 5 {
  let level = 1;
  for (const from of scale.levelFrom) if (p >= from) level++;
  return level as 1 | 2 | 3 | 4 | 5;
}

/** One Vietnam-time day of the index. */
export interface FireDay {
  /** YYYY-MM-DD, Vietnam time */
  date: string;
  /** rain of the day so far, mm */
  rainMm: number;
  /** the 13:00 hour's mean temperature and saturation deficit; absent when not observed */
  t13?: number;
  d13?: number;
  /** P at the end of the day (or now, for today) */
  p: number;
  reset: boolean;
}

export interface FireIndex {
  p: number;
  level: 1 | 2 | 3 | 4 | 5;
  days: FireDay[];
  /** the last day that set P back to 0, if within the look-back */
  lastReset?: string;
  /** days of the look-back with no 13:00 observation (they add nothing) */
  missingDays: number;
}

export interface HourlyInputs {
  /** hourly means, bucket start ms (UTC-aligned hours) */
  temperature: readonly SeriesPoint[];
  humidity: readonly SeriesPoint[];
  dewPoint: readonly SeriesPoint[];
  /** hourly sums of rainfall (mm per interval) */
  rain: readonly SeriesPoint[];
}


/**
 * P over the days from `from` to `now` (both epoch ms), from hourly aggregates. The 13:00 term of
 * a day counts once its 13:00 hour is over; its rain counts as it falls, so a wet morning resets
 * the index the same day.
 */
export function nesterovIndex(inputs: HourlyInputs, from: number, now: number, scale: FireScale): FireIndex {
  const byHour = (pts: readonly SeriesPoint[]) => new Map(pts.map((p) => [p.ts, p.value]));
  const temp = byHour(inputs.temperature);
  const rh = byHour(inputs.humidity);
  const td = byHour(inputs.dewPoint);
  const rainByDay = new Map<string, number>();
  for (const r of inputs.rain) if (r.ts >= from && r.ts < now) rainByDay.set(vnDate(r.ts), (rainByDay.get(vnDate(r.ts)) ?? 0) + r.value);

  const days: FireDay[] = [];
  let p = 0;
  let missing = 0;
  let lastReset: string | undefined;
  // local midnight of the first day, stepping one day at a time up to today
  const firstMidnight = vnMidnight(from);
  for (let midnight = firstMidnight; midnight <= now; midnight += DAY) {
    const date = vnDate(midnight);
    const rainMm = round1(rainByDay.get(date) ?? 0);
    const hourStart = midnight + scale.hour * HOUR;
    const day: FireDay = { date, rainMm, p, reset: false };
    if (rainMm >= scale.resetRainMm) {
      p = 0;
      day.reset = true;
      lastReset = date;
    } else if (hourStart + HOUR <= now && hourStart >= from) {
      const t = temp.get(hourStart);
      const d = t === undefined ? undefined : deficitHpa(t, { rh: rh.get(hourStart), dewPoint: td.get(hourStart) });
      if (t === undefined || d === undefined) missing++;
      else {
        day.t13 = round1(t);
        day.d13 = round1(d);
        p += Math.max(0, t) * d;
      }
    }
    day.p = Math.round(p);
    days.push(day);
  }
  const out: FireIndex = { p: Math.round(p), level: levelOfP(p, scale), days, missingDays: missing };
  if (lastReset) out.lastReset = lastReset;
  return out;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * The index of a station at `now`, read from the store: hourly means of temperature, humidity and
 * dew point and hourly rain sums over `lookbackMs` (longer than any dry spell of the province, so
 * the last reset is inside it; without one, P counts from the start of the look-back).
 */
export async function fireIndexFromStore(
  store: Pick<TimeSeriesStore, 'series'>,
  station: string,
  now: number,
  opts: FireScale & { lookbackMs: number },
): Promise<FireIndex> {
  // whole local days, and whole hours (the store's buckets are aligned to UTC hours: +7 h keeps them whole)
  const from = vnMidnight(now - opts.lookbackMs);
  const to = Math.floor(now / HOUR) * HOUR + HOUR;
  // raw readings, bucketed here: the hourly aggregates are brought up to date later (downsample), and a
  // logger's upload of past days must count at once (raw readings are kept 90 days: RETENTION_RAW_DAYS)
  const q = (metric: 'temperature' | 'humidity' | 'dew_point' | 'rainfall', fn: 'mean' | 'sum') => store.series({ station, metric, from, to, every: HOUR, fn, resolution: 'raw' });
  const [temperature, humidity, dewPoint, rain] = await Promise.all([q('temperature', 'mean'), q('humidity', 'mean'), q('dew_point', 'mean'), q('rainfall', 'sum')]);
  return nesterovIndex({ temperature, humidity, dewPoint, rain }, from, now, opts);
}

