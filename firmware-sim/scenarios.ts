import type { Station } from '../contract/station.ts';
import reference from '../config/hue-stations.json' with { type: 'json' };
import { FLOOD_REPLAYS, type ReplayName } from './floods/index.ts';
import { interpolate, replayRain, type FloodReplay } from './floods/hydrograph.ts';
import { DEFAULT_SCENARIO, type ScenarioName, type ScenarioParams, type Values } from './scenario-params.ts';
import { weatherSample } from './weather.ts';

/**
 * What a simulated station measures, as pure functions of (station, simulated elapsed seconds).
 * No clocks, no I/O: the same seed and time give the same values, so a replayed flood is the same
 * flood every run and tests can assert on it without sockets.
 */

export { DEFAULT_SCENARIO, resolveScenario, scenarioName, scenarioOptions, type ScenarioName, type ScenarioOptions, type ScenarioParams, type Values } from './scenario-params.ts';

/** The recorded flood a scenario replays, if it is a replay. */
export function replayOf(scenario: ScenarioName): FloodReplay | undefined {
  return scenario in FLOOD_REPLAYS ? FLOOD_REPLAYS[scenario as ReplayName] : undefined;
}

const HOUR = 3600;

/** Simulated seconds from the start of the rise to the end of the recession, plus the calm lead. */
export function floodEndS(p: ScenarioParams = DEFAULT_SCENARIO): number {
  return p.floodStartS + p.riseS + p.recessionS;
}

/** How many simulated seconds a scenario's flood lasts (calm: 0; a replay: its recorded span). */
export function scenarioEndS(scenario: ScenarioName, p: ScenarioParams = DEFAULT_SCENARIO): number {
  if (scenario === 'calm' || scenario === 'dry-season') return 0;
  return replayOf(scenario)?.durationS ?? floodEndS(p);
}

// ---------------------------------------------------------------- reference data

const refRiver = reference.river_stations.find((s) => s.id === 'kim-long');
/** The Kim Long peak is the highest level observed in the reference file (3.72 m, 2025-10-30). */
const KIM_LONG_PEAK_M = Math.max(...(refRiver?.observed ?? []).map((o) => o.level_m), 3.72);
/** Kim Long alarm levels 1-3 (Decision 05/2020/QĐ-TTg) and a dry-season baseline below level 1. */
const KIM_LONG_LEVELS = [1.0, 2.0, 3.5] as const;
const KIM_LONG_BASE_M = 0.45;

/** Event rain totals per gauge: observed 24 h totals (2025-11-02) where the reference has them. */
const ASSUMED_RAIN_MM: Record<string, number> = {
  'rg-hue': 250, // assumed: no reference value; the city gets less than the mountains
  'rg-a-luoi': 300, // assumed
  'rg-bach-ma': 500, // assumed: the wettest gauge (late-Nov 2024 event total 2,765 mm)
};
const RAIN_TOTAL_MM: Record<string, number> = { ...ASSUMED_RAIN_MM };
for (const g of reference.rain_gauges) {
  const obs = 'observed_24h_mm' in g ? g.observed_24h_mm : undefined;
  if (obs && obs.length > 0) RAIN_TOTAL_MM[g.id] = Math.max(...obs.map((o) => o.mm));
}
const DEFAULT_RAIN_TOTAL_MM = 300;

/** The event rain total a gauge receives in the flood scenario (mm). */
export function floodRainTotalMm(station: Station): number {
  return RAIN_TOTAL_MM[station.id] ?? DEFAULT_RAIN_TOTAL_MM;
}

/** A reservoir's normal water level (m a.s.l.) from the reference file; 50 m if it has none. */
function reservoirNormalLevel(station: Station): number {
  return reference.reservoirs.find((r) => r.id === station.id)?.normal_level_m ?? 50;
}

// ---------------------------------------------------------------- seeded noise

function hash32(s: string): number {
  let h = 2166136261; // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** mulberry32: one draw in [0, 1) keyed by (seed, key, bucket), so noise is a pure function of time. */
function rand(seed: number, key: string, bucket: number): number {
  let a = (hash32(key) ^ Math.imul(seed, 0x9e3779b9) ^ Math.imul(bucket | 0, 0x85ebca6b)) >>> 0;
  a = (a + 0x6d2b79f5) >>> 0;
  let t = Math.imul(a ^ (a >>> 15), 1 | a);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Symmetric noise in [-amp, amp], a new draw each simulated second. */
function noise(p: ScenarioParams, key: string, t: number, amp: number): number {
  return (rand(p.seed, key, Math.floor(t)) * 2 - 1) * amp;
}

// ---------------------------------------------------------------- hydrograph

const smoothstep = (u: number) => (u <= 0 ? 0 : u >= 1 ? 1 : u * u * (3 - 2 * u));

/**
 * Flood shape in [0, 1]: a smooth (C1) rise to 1 at the peak, then a slower smooth recession to 0.
 * Piecewise Hermite rather than a gamma curve so the flood ends exactly and its length is the sum of
 * the configured durations.
 */
export function floodShape(t: number, p: ScenarioParams = DEFAULT_SCENARIO): number {
  const u = t - p.floodStartS;
  if (u <= 0) return 0;
  if (u <= p.riseS) return smoothstep(u / p.riseS);
  return 1 - smoothstep((u - p.riseS) / p.recessionS);
}

/** M2 tide (12.42 h) and a diurnal term: Kim Long is tidal in the dry season, ~±0.1 m. */
function tide(t: number): number {
  return 0.08 * Math.sin((2 * Math.PI * t) / (12.42 * HOUR)) + 0.03 * Math.sin((2 * Math.PI * t) / (24 * HOUR));
}

/** Water level at Kim Long in metres. */
function kimLongLevel(station: Station, scenario: ScenarioName, t: number, p: ScenarioParams): number {
  const replay = replayOf(scenario);
  // a replay follows the recorded hydrograph; gauges read to the centimetre, hence ±1 cm
  if (replay) return interpolate(replay.levels['kim-long'], t) + noise(p, station.id + '/wl', t, 0.01);
  const shape = scenario === 'flood' ? floodShape(t, p) : 0;
  // The flood swamps the tide: its amplitude fades as the river rises.
  const calm = KIM_LONG_BASE_M + tide(t) * (1 - shape);
  return calm + (KIM_LONG_PEAK_M - KIM_LONG_BASE_M) * shape + noise(p, station.id + '/wl', t, 0.01);
}

/**
 * A station's anchors [base, level 1, level 2, level 3]. Missing levels above a known one follow
 * Kim Long's spacing; a station with no levels at all is simulated on Kim Long's scale.
 */
function anchors(station: Station): [number, number, number, number] {
  const kl = [KIM_LONG_BASE_M, ...KIM_LONG_LEVELS];
  const l1 = station.alarmLevels['1'];
  if (l1 === undefined) return kl as [number, number, number, number];
  const l2 = station.alarmLevels['2'];
  const step = l2 === undefined ? KIM_LONG_LEVELS[1] - KIM_LONG_LEVELS[0] : l2 - l1;
  const ratio = step / (KIM_LONG_LEVELS[1] - KIM_LONG_LEVELS[0]);
  const level2 = l2 ?? l1 + step;
  const level3 = station.alarmLevels['3'] ?? level2 + (KIM_LONG_LEVELS[2] - KIM_LONG_LEVELS[1]) * ratio;
  return [l1 - (KIM_LONG_LEVELS[0] - KIM_LONG_BASE_M) * ratio, l1, level2, level3];
}

/** Piecewise-linear map from Kim Long metres to the station's metres, alarm level onto alarm level. */
function toStation(h: number, from: readonly number[], to: readonly number[]): number {
  let i = 0;
  while (i < from.length - 2 && h > from[i + 1]!) i++;
  const f0 = from[i]!, f1 = from[i + 1]!, t0 = to[i]!, t1 = to[i + 1]!;
  return t0 + ((h - f0) * (t1 - t0)) / (f1 - f0);
}

/**
 * River water level (m): calm hovers below alarm level 1; the flood crosses levels 1, 2 and 3 in
 * order, peaks near the observed 3.72 m at Kim Long (scaled to each station's own levels) and recedes.
 */
export function riverLevel(station: Station, scenario: ScenarioName, t: number, p: ScenarioParams = DEFAULT_SCENARIO): number {
  const replay = replayOf(scenario);
  // Phú Ốc has a recorded hydrograph of its own (the Bồ peaks at other hours than the Hương)
  if (replay && station.id === 'phu-oc') return interpolate(replay.levels['phu-oc'], t) + noise(p, station.id + '/wl', t, 0.01);
  const h = kimLongLevel(station, scenario, t, p);
  return toStation(h, [KIM_LONG_BASE_M, ...KIM_LONG_LEVELS], anchors(station));
}

// ---------------------------------------------------------------- rain

/** Integral of sin²(πu) from 0 to u, for u in [0, 1]: the storm's cumulative fraction is 2× this. */
const bellIntegral = (u: number) => {
  const c = Math.min(1, Math.max(0, u));
  return c / 2 - Math.sin(2 * Math.PI * c) / (4 * Math.PI);
};

/** Calm weather: a light shower (0.2-1 mm/h) in about one simulated hour in eight. */
function drizzleMm(station: Station, fromS: number, toS: number, p: ScenarioParams): number {
  let mm = 0;
  for (let h = Math.floor(fromS / HOUR); h * HOUR < toS; h++) {
    const overlap = Math.min(toS, (h + 1) * HOUR) - Math.max(fromS, h * HOUR);
    if (overlap <= 0) continue;
    const r = rand(p.seed, station.id + '/drizzle', h);
    if (r < 0.125) mm += (0.2 + r * 6.4) * (overlap / HOUR);
  }
  return mm;
}

/**
 * Rain (mm) in the simulated interval (fromS, toS]. In the flood scenario a storm shaped sin² runs
 * from rainLeadS before the rise to the peak and delivers the gauge's reference 24 h total, so that
 * accumulation rules see the observed totals even though the flood is compressed in time.
 */
export function rainfall(station: Station, scenario: ScenarioName, fromS: number, toS: number, p: ScenarioParams = DEFAULT_SCENARIO): number {
  if (toS <= fromS || scenario === 'dry-season') return 0;
  let mm = drizzleMm(station, fromS, toS, p);
  const replay = replayOf(scenario);
  if (replay) mm += replayRain(replay, station.id, fromS, toS) * (1 + noise(p, station.id + '/rain', toS, 0.1));
  if (scenario === 'flood') {
    const start = Math.max(0, p.floodStartS - p.rainLeadS);
    const width = p.floodStartS + p.riseS - start;
    const frac = 2 * (bellIntegral((toS - start) / width) - bellIntegral((fromS - start) / width));
    // ±10 % per reading: showers are bursty, the event total stays near the reference.
    mm += floodRainTotalMm(station) * frac * (1 + noise(p, station.id + '/rain', toS, 0.1));
  }
  return mm;
}

// ---------------------------------------------------------------- one reading

/**
 * How far into its flood the scenario is, in [0, 1]: the synthetic flood's shape, or for a replay
 * Kim Long's recorded level between its calm baseline and its peak. Drives the metrics that follow
 * the flood without a hydrograph of their own (clouds, radio fade, reservoir inflow, air).
 */
export function scenarioShape(scenario: ScenarioName, t: number, p: ScenarioParams = DEFAULT_SCENARIO): number {
  if (scenario === 'flood') return floodShape(t, p);
  const replay = replayOf(scenario);
  if (!replay) return 0;
  const peak = replay.peaks['kim-long'].m;
  return Math.min(1, Math.max(0, (interpolate(replay.levels['kim-long'], t) - KIM_LONG_BASE_M) / (peak - KIM_LONG_BASE_M)));
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Solar-charged 12 V battery: charges by day, less under flood clouds. */
function batteryV(station: Station, scenario: ScenarioName, t: number, p: ScenarioParams): number {
  const sun = Math.max(0, Math.sin((2 * Math.PI * t) / (24 * HOUR)));
  const clouds = 1 - 0.7 * (scenario === 'calm' ? 0 : scenario === 'flood' ? 1 : scenarioShape(scenario, t, p));
  return 12.3 + 0.4 * sun * clouds + noise(p, station.id + '/bat', t, 0.02);
}

/** Heavy rain attenuates the cellular link. */
function rssiDbm(station: Station, scenario: ScenarioName, t: number, p: ScenarioParams): number {
  const fade = 12 * scenarioShape(scenario, t, p);
  return -72 - fade + noise(p, station.id + '/rssi', t, 4);
}

/**
 * The metrics a station of this kind reports at simulated time `t` (seconds since the scenario
 * started); `intervalS` is the simulated length of the interval the reading closes (for rainfall).
 */
export function sample(station: Station, scenario: ScenarioName, t: number, intervalS: number, p: ScenarioParams = DEFAULT_SCENARIO): Values {
  const values: Values = {};
  const shape = scenarioShape(scenario, t, p);
  switch (station.kind) {
    case 'river':
      values.water_level = round(riverLevel(station, scenario, t, p), 3);
      break;
    case 'rain':
      values.rainfall = round(rainfall(station, scenario, Math.max(0, t - intervalS), t, p), 1);
      break;
    case 'air':
      // Rain washes particles out of the air during the flood.
      values.pm25 = round((28 + 10 * Math.sin((2 * Math.PI * t) / (24 * HOUR))) * (1 - 0.6 * shape) + noise(p, station.id + '/pm', t, 2), 1);
      values.temperature = round(27 + 3 * Math.sin((2 * Math.PI * t) / (24 * HOUR)) - 3 * shape, 1);
      values.humidity = round(Math.min(100, 82 + 13 * shape + noise(p, station.id + '/rh', t, 2)), 0);
      // The rest of what VN_AQI reads (Decision 1459/QĐ-TCMT), at typical urban Huế levels, all
      // "good" or "moderate": PM10 ~1.6× PM2.5, ozone peaking in the afternoon sun, traffic NO2/CO.
      values.pm10 = round(values.pm25 * 1.6 + noise(p, station.id + '/pm10', t, 3), 1);
      values.o3 = round(Math.max(5, 60 + 30 * Math.sin((2 * Math.PI * (t - 6 * HOUR)) / (24 * HOUR))) * (1 - 0.5 * shape), 1);
      values.no2 = round(30 + 8 * Math.cos((2 * Math.PI * t) / (12 * HOUR)) + noise(p, station.id + '/no2', t, 2), 1);
      values.so2 = round(12 + noise(p, station.id + '/so2', t, 1.5), 1);
      values.co = round(1800 + 400 * Math.cos((2 * Math.PI * t) / (12 * HOUR)) + noise(p, station.id + '/co', t, 50), 0);
      break;
    case 'reservoir': {
      // Inflow leads Kim Long by an hour; outflow is held below inflow to cut the peak (Decision 1606/QĐ-TTg).
      const inflow = 30 + 2500 * scenarioShape(scenario, t + HOUR, p);
      values.inflow = round(inflow + noise(p, station.id + '/q', t, 3), 0);
      values.outflow = round(30 + 0.6 * (inflow - 30), 0);
      // As the simulated dam PLCs have it (firmware-sim/modbus/plc.ts): 1.5 m below the normal
      // level in calm weather, rising with the flood to 2 m above it.
      values.reservoir_level = round(reservoirNormalLevel(station) - 1.5 + 3.5 * shape, 3);
      break;
    }
    case 'weather':
      Object.assign(values, weatherSample(station, scenario, t, rainfall(station, scenario, Math.max(0, t - intervalS), t, p), p));
      break;
  }
  values.battery_v = round(batteryV(station, scenario, t, p), 2);
  values.rssi = Math.round(rssiDbm(station, scenario, t, p));
  return values;
}
