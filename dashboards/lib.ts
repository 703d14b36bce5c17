import type { Dashboard, Panel } from '@grafana/schema';

/**
 * Small builders for Grafana dashboard JSON, typed with @grafana/schema (the same types the tests
 * turn into a JSON Schema). Only what our dashboards use; everything else stays Grafana's default.
 */

/** Grafana 11.6's dashboard schema version (`defaultDashboard.schemaVersion` of @grafana/schema 11.6). */
export const SCHEMA_VERSION = 41;

/** Datasource uids, provisioned by dashboards/provisioning/datasources/*.yaml. */
/** A datasource reference as dashboards store it: `{type, uid}`. */
export type DsRef = { type: string; uid: string };
export const INFLUX: DsRef = { type: 'influxdb', uid: 'huewatch-influx' };
export const PROMETHEUS: DsRef = { type: 'prometheus', uid: 'huewatch-prometheus' };

/** Alarm-level colours of the console and the dashboards: level 1 yellow, 2 orange, 3 red. */
export const LEVEL_COLOURS: Record<string, string> = { '1': '#f2cc0c', '2': '#ff780a', '3': '#e02f44' };

export type Step = { value: number | null; color: string };

// a type alias, not an interface, so it is assignable to the schema's Record<string, unknown> targets
export type InfluxTarget = {
  refId: string;
  datasource: DsRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
};

export const influx = (refId: string, query: string, alias?: string, resultFormat: InfluxTarget['resultFormat'] = 'time_series'): InfluxTarget => ({
  refId, datasource: INFLUX, query, rawQuery: true, resultFormat, ...(alias ? { alias } : {}),
});

export const prom = (refId: string, expr: string, legendFormat = '__auto') => ({ refId, datasource: PROMETHEUS, expr, legendFormat, range: true });

/** InfluxQL string literal (single quotes; `\` and `'` escaped, as the InfluxQL scanner reads them). */
export const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

type Grid = { x: number; y: number; w: number; h: number };

interface TimeseriesOpts {
  title: string;
  description?: string;
  unit: string;
  targets: Array<Record<string, unknown>>;
  grid: Grid;
  steps?: Step[];
  /** how thresholds are drawn: as lines (levels) or as a background band */
  thresholdStyle?: 'line' | 'line+area' | 'dashed' | 'off';
  bars?: boolean;
  datasource?: DsRef;
  min?: number;
  /** the value axis, Vietnamese first with English beside: "Mực nước (Water level), m" */
  axisLabel?: string;
}

let nextId = 1;
/** Panel ids are unique within a dashboard; `dashboard()` renumbers them in order. */
const id = () => nextId++;

export function timeseries(o: TimeseriesOpts): Panel {
  return {
    id: id(),
    type: 'timeseries',
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource: o.datasource ?? INFLUX,
    gridPos: { ...o.grid },
    targets: o.targets,
    fieldConfig: {
      defaults: {
        unit: o.unit,
        ...(o.min !== undefined ? { min: o.min } : {}),
        thresholds: { mode: 'absolute' as never, steps: o.steps ?? [{ value: null, color: 'green' }] },
        color: { mode: 'palette-classic' as never },
        custom: {
          drawStyle: o.bars ? 'bars' : 'line',
          fillOpacity: o.bars ? 80 : 10,
          lineWidth: 2,
          spanNulls: false,
          showPoints: 'never',
          thresholdsStyle: { mode: o.thresholdStyle ?? (o.steps ? 'line' : 'off') },
          ...(o.axisLabel ? { axisLabel: o.axisLabel } : {}),
        },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

export function bargauge(o: { title: string; description?: string; unit: string; targets: Array<Record<string, unknown>>; grid: Grid; steps: Step[] }): Panel {
  return {
    id: id(),
    type: 'bargauge',
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource: INFLUX,
    gridPos: { ...o.grid },
    targets: o.targets,
    fieldConfig: {
      defaults: { unit: o.unit, min: 0, thresholds: { mode: 'absolute' as never, steps: o.steps }, color: { mode: 'thresholds' as never } },
      overrides: [],
    },
    options: { orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } },
  };
}

export function row(title: string, y: number): Panel {
  // A row is a `RowPanel` in the schema; it carries no datasource and no targets.
  return { id: id(), type: 'row', title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] } as unknown as Panel;
}

export function panel(p: Omit<Panel, 'id'>): Panel {
  return { id: id(), ...p };
}

export function dashboard(d: { uid: string; title: string; description: string; tags: string[]; panels: Panel[]; annotations?: Array<Record<string, unknown>>; refresh?: string; time?: string }): Dashboard {
  nextId = 1;
  const panels = d.panels.map((p, i) => ({ ...p, id: i + 1 }));
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['huewatch', ...d.tags],
    editable: false, // provisioned from git: change the generator, not the UI
    graphTooltip: 1 as never,
    timezone: 'Asia/Ho_Chi_Minh', // DESIGN.md: the console shows Asia/Ho_Chi_Minh
    refresh: d.refresh ?? '30s',
    time: { from: d.time ?? 'now-2d', to: 'now' },
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    links: [{ title: 'HueWatch', type: 'dashboards', tags: ['huewatch'], asDropdown: true, icon: 'external link', includeVars: false, keepTime: true, targetBlank: false, tooltip: '' }],
    annotations: { list: [GRAFANA_BUILTIN_ANNOTATION, ALERT_EVENTS_ANNOTATION, ...(d.annotations ?? [])] as never },
    templating: { list: [] },
    panels,
  };
}

const GRAFANA_BUILTIN_ANNOTATION = {
  builtIn: 1,
  datasource: { type: 'grafana', uid: '-- Grafana --' },
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
  name: 'Annotations & Alerts',
  type: 'dashboard',
};

/**
 * Alerts as annotations. No `alert` measurement is written to InfluxDB yet (alerts live in the
 * state store), so the markers come from the platform's Prometheus counter of published alert
 * events: one marker per minute in which an Alert / Update / Cancel went out. The console has the
 * text of each alert; a per-alert annotation with its headline needs measurement `alert`.
 */
const ALERT_EVENTS_ANNOTATION = {
  datasource: PROMETHEUS,
  enable: true,
  hide: false,
  iconColor: '#e02f44',
  name: 'Sự kiện cảnh báo (Alert events)',
  expr: 'sum by (msgType) (increase(huewatch_alert_events_total[1m])) > 0',
  step: '60s',
  titleFormat: 'Sự kiện cảnh báo (Alert event): {{msgType}}',
  textFormat: '{{msgType}} đã phát trên (published on) huewatch/v1/alerts',
  useValueForTime: false,
};

export const rgbHex = (rgb: readonly number[]) => '#' + rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
