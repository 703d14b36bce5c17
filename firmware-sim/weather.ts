import type { Station } from '../contract/station.ts';
import { dewPointC } from '../lib/psychrometry.ts';
import { vnMidnight } from '../lib/vietnam-time.ts';
import type { ScenarioName, ScenarioParams, Values } from './scenario-params.ts';

/**
 * What an automatic weather station of the forested districts reports: air temperature, relative
 * humidity, dew point, wind and rain. In the rainy season (every scenario but `dry-season`) the
 * afternoon stays humid and it rains most days, so the forest-fire index stays at level I; in
 * `dry-season` a hot, dry spell follows the last rain, as the foehn (gió Lào) brings it to Huế's
 * hills from May to August.
 */

const HOUR_S = 3600;
const DAY_MS = 86_400_000;

/** 0 at night, rising from 06:00 to 1 at 13:00 and back to 0 at 20:00: the sun's share of the day's heat. */
function daylight(hourOfDay: number): number {
  return Math.max(0, Math.sin((Math.PI * (hourOfDay - 6)) / 14));
}

function reading(tC: number, rh: number, rainMm: number, windMs: number, windDeg: number): Values {
  const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
  return {
    temperature: round(tC, 1),
    humidity: round(rh, 0),
    dew_point: round(dewPointC(tC, rh), 1),
    wind_speed: round(windMs, 1),
    wind_direction: Math.round(windDeg) % 360,
    rainfall: round(rainMm, 1),
  };
}

/**
 * A live reading at simulated time `t` (s): the diurnal cycle runs on simulated hours. `rainMm` is
 * the rain of the interval, from the scenario's own rain (scenarios.ts `rainfall`).
 */
export function weatherSample(_station: Station, scenario: ScenarioName, t: number, rainMm: number, _p: ScenarioParams): Values {
  const sun = daylight(((t / HOUR_S) % 24 + 24) % 24);
  if (scenario === 'dry-season') return reading(27 + 10 * sun, 80 - 42 * sun, 0, 2 + 4 * sun, 250); // west-south-west foehn
  return reading(23 + 5 * sun, 95 - 17 * sun, rainMm, 1.5 + 2 * sun, 45); // north-east monsoon, wet season
}

export interface HistoryReading {
  ts: number;
  m: Values;
}

/**
 * A dry season's logger memory: hourly readings of the `days` whole Vietnam-time days before the
 * one `nowMs` falls in, oldest first, one array per day. The first day rains 12 mm in the
 * afternoon (the last rain, setting the fire index back to 0); every day after is hotter and drier
 * than the one before (13:00: 31 → 38 °C, 55 → 35 %), so the index climbs through the five levels.
 */
export function dryHistory(nowMs: number, days = 22): HistoryReading[][] {
  const todayMidnight = vnMidnight(nowMs);
  const out: HistoryReading[][] = [];
  for (let k = 0; k < days; k++) {
    const midnight = todayMidnight - (days - k) * DAY_MS;
    const dry = k / (days - 1); // 0 on the rainy day, 1 on the last
    const t13 = k === 0 ? 27 : 31 + 7 * dry;
    const rh13 = k === 0 ? 85 : 55 - 20 * dry;
    const day: HistoryReading[] = [];
    for (let h = 0; h < 24; h++) {
      const sun = daylight(h);
      const tC = t13 - 9 + 9 * sun;
      const rh = rh13 + (92 - rh13) * (1 - sun);
      const rain = k === 0 && h >= 15 && h < 18 ? 4 : 0; // 12 mm in three hours on the rainy day
      day.push({ ts: midnight + h * 3_600_000, m: reading(tC, rh, rain, 1 + 4 * sun, k === 0 ? 60 : 250) });
    }
    out.push(day);
  }
  return out;
}
