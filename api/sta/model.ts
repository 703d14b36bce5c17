import { METRICS, isMetric, type MetricName } from '../../contract/metrics.ts';
import type { Station, StationKind } from '../../contract/station.ts';

/**
 * The SensorThings data model (OGC 18-088 §8) generated from the station catalogue: nothing is
 * copied or stored. Ids are stable and readable (api/sta/README.md "Ids"):
 *   Thing, Location, FeatureOfInterest   the station id            'kim-long'
 *   Sensor, ObservedProperty             the metric name           'water_level'
 *   Datastream                           station:metric            'kim-long:water_level'
 *   Observation                          station:metric:epoch-ms   'kim-long:water_level:1764720000000'
 * Observations are read from the time-series store on request (query.ts).
 */

export const ENTITY_SETS = ['Things', 'Locations', 'HistoricalLocations', 'Sensors', 'ObservedProperties', 'Datastreams', 'Observations', 'FeaturesOfInterest'] as const;
export type EntitySet = (typeof ENTITY_SETS)[number];

interface Nav { target: EntitySet; many: boolean }

/** each entity type's properties (in output order) and navigation properties (18-088 §8.2) */
export const TYPES: Record<EntitySet, { props: readonly string[]; navs: Record<string, Nav> }> = {
  Things: { props: ['name', 'description', 'properties'], navs: { Locations: { target: 'Locations', many: true }, HistoricalLocations: { target: 'HistoricalLocations', many: true }, Datastreams: { target: 'Datastreams', many: true } } },
  Locations: { props: ['name', 'description', 'encodingType', 'location', 'properties'], navs: { Things: { target: 'Things', many: true }, HistoricalLocations: { target: 'HistoricalLocations', many: true } } },
  HistoricalLocations: { props: ['time'], navs: { Thing: { target: 'Things', many: false }, Locations: { target: 'Locations', many: true } } },
  Sensors: { props: ['name', 'description', 'encodingType', 'metadata', 'properties'], navs: { Datastreams: { target: 'Datastreams', many: true } } },
  ObservedProperties: { props: ['name', 'definition', 'description', 'properties'], navs: { Datastreams: { target: 'Datastreams', many: true } } },
  Datastreams: {
    props: ['name', 'description', 'unitOfMeasurement', 'observationType', 'observedArea', 'phenomenonTime', 'resultTime', 'properties'],
    navs: { Thing: { target: 'Things', many: false }, Sensor: { target: 'Sensors', many: false }, ObservedProperty: { target: 'ObservedProperties', many: false }, Observations: { target: 'Observations', many: true } },
  },
  Observations: { props: ['phenomenonTime', 'resultTime', 'result', 'resultQuality', 'validTime', 'parameters'], navs: { Datastream: { target: 'Datastreams', many: false }, FeatureOfInterest: { target: 'FeaturesOfInterest', many: false } } },
  FeaturesOfInterest: { props: ['name', 'description', 'encodingType', 'feature', 'properties'], navs: { Observations: { target: 'Observations', many: true } } },
};

export interface Entity {
  set: EntitySet;
  id: string;
  /** the JSON properties of TYPES[set].props (absent ones are left out of the output) */
  props: Record<string, unknown>;
  /** Datastreams and Observations: where their readings are */
  station?: string;
  metric?: MetricName;
  /** Observations: epoch ms */
  ts?: number;
}

/**
 * What each kind of station measures (firmware-sim/scenarios.ts `sample`, the Modbus register maps
 * for reservoirs): one Datastream per station and metric. A kind not listed here has no
 * Datastreams yet. Device health (battery_v, rssi) is not published: it describes the logger.
 */
export const KIND_METRICS: Readonly<Record<StationKind, readonly MetricName[]>> = {
  river: ['water_level'],
  rain: ['rainfall'],
  air: ['pm25', 'pm10', 'o3', 'no2', 'so2', 'co', 'temperature', 'humidity'],
  reservoir: ['reservoir_level', 'inflow', 'outflow', 'spillway', 'gate_opening'],
  weather: ['temperature', 'humidity', 'dew_point', 'wind_speed', 'wind_direction', 'rainfall'],
};

/** unitOfMeasurement (18-088 Table 13) for the catalogue's UCUM codes (contract/metrics.ts) */
const UNIT_NAMES: Record<string, string> = {
  m: 'metre', mm: 'millimetre', 'm3/s': 'cubic metre per second', 'ug/m3': 'microgram per cubic metre',
  Cel: 'degree Celsius', '%RH': 'percent relative humidity', deg: 'degree (angle)', V: 'volt', dBm: 'decibel-milliwatt', 'm/s': 'metre per second',
};
export function unitOfMeasurement(metric: MetricName): { name: string; symbol: string; definition: string } {
  const symbol = METRICS[metric].unit;
  return { name: UNIT_NAMES[symbol] ?? symbol, symbol, definition: `http://unitsofmeasure.org/ucum.html#${encodeURIComponent(symbol)}` };
}

export const OM_MEASUREMENT = 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement';
const GEOJSON = 'application/geo+json';

export interface Catalogue {
  get(set: EntitySet, id: string): Entity | undefined;
  all(set: Exclude<EntitySet, 'Observations'>): readonly Entity[];
  /** the catalogue entities a navigation property leads to (not Observations: those are in the store) */
  related(from: Entity, nav: string): Entity[];
  datastream(station: string, metric: string): Entity | undefined;
}

export function buildCatalogue(stations: readonly Station[]): Catalogue {
  const sets = Object.fromEntries(ENTITY_SETS.map((s) => [s, new Map<string, Entity>()])) as Record<EntitySet, Map<string, Entity>>;
  const add = (e: Entity) => sets[e.set].set(e.id, e);
  const point = (s: Station) => ({ type: 'Point', coordinates: [s.lon, s.lat] });
  const metricsInUse = new Set<MetricName>();

  for (const s of stations) {
    const properties = { kind: s.kind, areaCode: s.areaCode, areaName: s.areaName, ...(s.river ? { river: s.river } : {}), ...(Object.keys(s.alarmLevels).length > 0 ? { alarmLevels_m: s.alarmLevels } : {}) };
    add({ set: 'Things', id: s.id, props: { name: s.name, description: `${kindName(s.kind)} ${s.name} (${s.areaName})`, properties } });
    add({ set: 'Locations', id: s.id, props: { name: s.name, description: `where the ${kindName(s.kind).toLowerCase()} ${s.name} stands`, encodingType: GEOJSON, location: point(s) } });
    add({ set: 'FeaturesOfInterest', id: s.id, props: { name: s.name, description: `what the ${kindName(s.kind).toLowerCase()} ${s.name} observes, at its location`, encodingType: GEOJSON, feature: point(s) } });
    for (const metric of KIND_METRICS[s.kind] ?? []) {
      metricsInUse.add(metric);
      const m = METRICS[metric];
      add({
        set: 'Datastreams', id: `${s.id}:${metric}`, station: s.id, metric,
        props: {
          name: `${s.name} ${m.en}`, description: `${m.en} (${m.vi}) at ${s.name}`, unitOfMeasurement: unitOfMeasurement(metric),
          observationType: OM_MEASUREMENT, observedArea: point(s), properties: { station: s.id, metric },
        },
      });
    }
  }
  for (const metric of metricsInUse) {
    const m = METRICS[metric];
    add({ set: 'Sensors', id: metric, metric, props: { name: `${m.en} sensor`, description: `the sensor of a station that reports ${m.en} (${m.vi}), in ${m.unit}`, encodingType: 'text/plain', metadata: `HueWatch metric ${metric}: ${m.en}, unit ${m.unit}, valid range ${m.min} to ${m.max}`, properties: { validRange: [m.min, m.max] } } });
    add({ set: 'ObservedProperties', id: metric, metric, props: { name: m.en, definition: `urn:huewatch:metric:${metric}`, description: `${m.en} (${m.vi}), in ${m.unit}`, properties: { vi: m.vi } } });
  }

  const datastreams = [...sets.Datastreams.values()];
  const related = (from: Entity, nav: string): Entity[] => {
    const one = (set: EntitySet, id: string | undefined) => (id === undefined ? [] : [sets[set].get(id)].filter((e): e is Entity => e !== undefined));
    switch (`${from.set}/${nav}`) {
      case 'Things/Locations': return one('Locations', from.id);
      case 'Things/Datastreams': return datastreams.filter((d) => d.station === from.id);
      case 'Locations/Things': return one('Things', from.id);
      case 'Sensors/Datastreams':
      case 'ObservedProperties/Datastreams': return datastreams.filter((d) => d.metric === from.id);
      case 'Datastreams/Thing': return one('Things', from.station);
      case 'Datastreams/Sensor': return one('Sensors', from.metric);
      case 'Datastreams/ObservedProperty': return one('ObservedProperties', from.metric);
      case 'Observations/Datastream': return one('Datastreams', `${from.station}:${from.metric}`);
      case 'Observations/FeatureOfInterest': return one('FeaturesOfInterest', from.station);
      // fixed stations never moved: no HistoricalLocations (README "HistoricalLocations")
      default: return [];
    }
  };
  return {
    get: (set, id) => sets[set].get(id),
    all: (set) => [...sets[set].values()],
    related,
    datastream: (station, metric) => (isMetric(metric) ? sets.Datastreams.get(`${station}:${metric}`) : undefined),
  };
}

function kindName(kind: string): string {
  return ({ river: 'River gauge', rain: 'Rain gauge', air: 'Air-quality monitor', reservoir: 'Reservoir' } as Record<string, string>)[kind] ?? `Station (${kind})`;
}

/** An Observation entity for one stored reading */
export function observationEntity(station: string, metric: MetricName, ts: number, value: number): Entity {
  const time = new Date(ts).toISOString();
  const { min, max } = METRICS[metric];
  return {
    set: 'Observations', id: `${station}:${metric}:${ts}`, station, metric, ts,
    props: { phenomenonTime: time, resultTime: time, result: value, resultQuality: value < min || value > max ? 'out_of_range' : 'ok' },
  };
}

/** `kim-long:water_level:1764720000000` → its parts; undefined when it is not an Observation id */
export function parseObservationId(id: string): { station: string; metric: MetricName; ts: number } | undefined {
  const m = /^(.+):([a-z0-9_]+):(\d{1,15})$/.exec(id);
  if (!m || !isMetric(m[2]!)) return undefined;
  return { station: m[1]!, metric: m[2] as MetricName, ts: Number(m[3]) };
}
