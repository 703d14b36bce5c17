import { z } from 'zod';

/**
 * The metric catalogue (DESIGN.md, "Wire contract"): one unit per metric, the measurement
 * (InfluxDB domain) it is stored under, and the physical range outside which a value is kept but
 * flagged `out_of_range` and never triggers a hazard alert by itself.
 * Ranges are what the sensor or the physics can produce, not alarm levels.
 */
export const METRICS = {
  water_level: { unit: 'm', measurement: 'hydro', min: -10, max: 100, vi: 'mực nước', en: 'water level' },
  rainfall: { unit: 'mm', measurement: 'rain', min: 0, max: 500, vi: 'lượng mưa', en: 'rainfall' },
  reservoir_level: { unit: 'm', measurement: 'reservoir', min: 0, max: 1000, vi: 'mực nước hồ', en: 'reservoir level' },
  inflow: { unit: 'm3/s', measurement: 'reservoir', min: 0, max: 50000, vi: 'lưu lượng đến hồ', en: 'inflow' },
  outflow: { unit: 'm3/s', measurement: 'reservoir', min: 0, max: 50000, vi: 'lưu lượng xả', en: 'outflow' },
  spillway: { unit: 'm3/s', measurement: 'reservoir', min: 0, max: 50000, vi: 'lưu lượng qua tràn', en: 'spillway discharge' },
  gate_opening: { unit: 'm', measurement: 'reservoir', min: 0, max: 30, vi: 'độ mở cửa van', en: 'gate opening' },
  pm25: { unit: 'ug/m3', measurement: 'air', min: 0, max: 2000, vi: 'bụi PM2.5', en: 'PM2.5' },
  pm10: { unit: 'ug/m3', measurement: 'air', min: 0, max: 3000, vi: 'bụi PM10', en: 'PM10' },
  o3: { unit: 'ug/m3', measurement: 'air', min: 0, max: 2000, vi: 'ôzôn', en: 'ozone' },
  no2: { unit: 'ug/m3', measurement: 'air', min: 0, max: 5000, vi: 'NO2', en: 'NO2' },
  so2: { unit: 'ug/m3', measurement: 'air', min: 0, max: 5000, vi: 'SO2', en: 'SO2' },
  co: { unit: 'ug/m3', measurement: 'air', min: 0, max: 200000, vi: 'CO', en: 'CO' },
  temperature: { unit: 'Cel', measurement: 'air', min: -20, max: 60, vi: 'nhiệt độ', en: 'temperature' },
  humidity: { unit: '%RH', measurement: 'air', min: 0, max: 100, vi: 'độ ẩm', en: 'humidity' },
  /** dew point, weather stations (forest-fire danger: rules/fire-danger.ts) */
  dew_point: { unit: 'Cel', measurement: 'air', min: -40, max: 40, vi: 'điểm sương', en: 'dew point' },
  wind_speed: { unit: 'm/s', measurement: 'air', min: 0, max: 100, vi: 'tốc độ gió', en: 'wind speed' },
  wind_direction: { unit: 'deg', measurement: 'air', min: 0, max: 360, vi: 'hướng gió', en: 'wind direction' },
  battery_v: { unit: 'V', measurement: 'device', min: 0, max: 60, vi: 'điện áp pin', en: 'battery voltage' },
  rssi: { unit: 'dBm', measurement: 'device', min: -150, max: 0, vi: 'cường độ tín hiệu', en: 'signal strength' },
} as const satisfies Record<string, MetricInfo>;

export interface MetricInfo {
  unit: string;
  measurement: 'hydro' | 'rain' | 'reservoir' | 'air' | 'device';
  min: number;
  max: number;
  vi: string;
  en: string;
}

/**
 * How people read a catalogue unit (the wire keeps the ASCII/UCUM-like spelling above): the
 * console and the dashboards show these.
 */
export const UNIT_LABELS: Readonly<Record<string, string>> = {
  'm3/s': 'm³/s',
  'ug/m3': 'µg/m³',
  Cel: '°C',
  '%RH': '%',
  deg: '°',
};

/** "Mực nước (Water level), m": Vietnamese first, English beside, then the unit as people read it. */
export function metricLabel(metric: string): string {
  const m = (METRICS as Record<string, MetricInfo>)[metric];
  if (!m) return metric;
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return `${cap(m.vi)} (${cap(m.en)}), ${UNIT_LABELS[m.unit] ?? m.unit}`;
}

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as [MetricName, ...MetricName[]];
export const metricName = z.enum(METRIC_NAMES);

export function isMetric(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

export type Quality = 'ok' | 'out_of_range';

export function qualityOf(metric: MetricName, value: number): Quality {
  const { min, max } = METRICS[metric];
  return value < min || value > max ? 'out_of_range' : 'ok';
}
