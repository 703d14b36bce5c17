/**
 * Generates the provisioned Grafana dashboards from the Huế reference data, so every alarm level,
 * reservoir level and VN_AQI breakpoint on a chart is the one in config/ and never a copy.
 *
 *   node --import tsx dashboards/build.ts      # rewrites dashboards/json/<folder>/<uid>.json
 *
 * The JSON is committed (Grafana reads files, not TypeScript); dashboards/dashboards.test.ts fails
 * when it differs from what this generator produces.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard, Panel } from '@grafana/schema';
import { parse as parseYaml } from 'yaml';
import { metricLabel } from '../contract/metrics.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { bargauge, dashboard, influx, lit, LEVEL_COLOURS, panel, prom, PROMETHEUS, rgbHex, row, timeseries, type Step, INFLUX } from './lib.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const JSON_DIR = join(HERE, 'json');
const CONFIG = join(HERE, '..', 'config');

/** Dashboard folders in Grafana; one provisioning provider each (provisioning/dashboards/huewatch.yaml). */
/** Vietnamese first, English beside, as every title of the dashboards. */
export const FOLDERS = { hydromet: 'HueWatch — Khí tượng thủy văn (Hydro-met)', environment: 'HueWatch — Không khí (Air)', fisheries: 'HueWatch — Thủy sản (Fisheries)', platform: 'HueWatch — Hệ thống (Platform)' } as const;
export type Folder = keyof typeof FOLDERS;

export interface BuiltDashboard {
  folder: Folder;
  file: string;
  dashboard: Dashboard;
}

interface ReservoirRef { id: string; name: string; normal_level_m?: number; dead_level_m?: number; design_flood_level_m?: number }
interface Standards {
  rainfall: { classes_24h_mm: Array<{ vi: string; min: number }>; flash_flood_24h_bands_mm: number[] };
  vn_aqi: { breakpoints: Record<string, Array<number | null>>; categories: Array<{ vi: string; name: string; rgb: number[] }> };
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

export function buildDashboards(stationsFile = DEFAULT_STATIONS_FILE, standardsFile = join(CONFIG, 'vn-standards.json'), modbusFile = join(CONFIG, 'modbus.yaml')): BuiltDashboard[] {
  const stations = loadStations(stationsFile);
  const reservoirs = readJson<{ reservoirs: ReservoirRef[] }>(stationsFile).reservoirs;
  const std = readJson<Standards>(standardsFile);
  const byKind = (k: string) => stations.filter((s) => s.kind === k);
  // spillway discharge is charted where a device reports it: the reservoirs whose register map
  // (config/modbus.yaml) has a spillway register; the others' telemetry carries inflow and outflow
  const modbus = parseYaml(readFileSync(modbusFile, 'utf8')) as { devices: Array<{ station: string; registers: Array<{ metric?: string }> }> };
  const spillway = new Set(modbus.devices.filter((d) => d.registers.some((r) => r.metric === 'spillway')).map((d) => d.station));
  const out: BuiltDashboard[] = [];
  const add = (folder: Folder, d: Dashboard) => out.push({ folder, file: `${d.uid}.json`, dashboard: d });

  // ---- rivers: one chart per station, its alarm levels (Decision 05/2020/QĐ-TTg) as threshold lines
  const rivers = byKind('river');
  add('hydromet', dashboard({
    uid: 'huewatch-rivers',
    title: 'Sông — mực nước và mức báo động (Rivers — water levels and alarm levels)',
    description: 'Mực nước tại mỗi trạm thủy văn (m, cao độ quốc gia) so với các mức báo động lũ. Water level at each river station (m, national height datum) against its flood alarm levels from config/hue-stations.json.',
    tags: ['hydro', 'flood'],
    panels: rivers.map((s, i) => {
      const levels = Object.entries(s.alarmLevels).sort(([, a], [, b]) => a - b);
      const steps: Step[] = [{ value: null, color: 'green' }, ...levels.map(([lvl, m]) => ({ value: m, color: LEVEL_COLOURS[lvl] ?? 'red' }))];
      return timeseries({
        title: `${s.name} (sông ${s.river ?? ''}) — mực nước (water level)`,
        description: levels.length
          ? `Mức báo động (alarm levels): ${levels.map(([l, m]) => `BĐ${l} ${m} m`).join(', ')}.`
          : 'Trạm này chưa có mức báo động: theo dõi tốc độ lên (no alarm levels are configured for this station: watch the rate of rise).',
        unit: 'lengthm',
        axisLabel: metricLabel('water_level'),
        targets: [influx('A', `SELECT mean("water_level") FROM "hydro" WHERE "station" = ${lit(s.id)} AND $timeFilter GROUP BY time($__interval) fill(none)`, 'mực nước (water level)')],
        grid: { x: (i % 2) * 12, y: Math.floor(i / 2) * 9, w: 12, h: 9 },
        ...(levels.length ? { steps, thresholdStyle: 'line+area' as const } : {}),
      });
    }),
  }));

  // ---- reservoirs: level against dead / normal / design flood levels; inflow, outflow, spillway
  add('hydromet', dashboard({
    uid: 'huewatch-reservoirs',
    title: 'Hồ chứa — mực nước và lưu lượng (Reservoirs — levels and discharges)',
    description: 'Mực nước hồ (m) so với mực nước chết, dâng bình thường và lũ thiết kế; lưu lượng đến, xả và qua tràn (m³/s). Reservoir level (m a.s.l.) against its dead, normal and design flood levels; inflow, outflow and spillway discharge (m³/s).',
    tags: ['hydro', 'reservoir'],
    panels: reservoirs.flatMap((r, i) => {
      const steps: Step[] = [{ value: null, color: 'blue' }];
      if (r.dead_level_m !== undefined) steps.push({ value: r.dead_level_m, color: 'green' });
      if (r.normal_level_m !== undefined) steps.push({ value: r.normal_level_m, color: '#ff780a' });
      if (r.design_flood_level_m !== undefined) steps.push({ value: r.design_flood_level_m, color: '#e02f44' });
      const named = [['mực nước chết (dead)', r.dead_level_m], ['dâng bình thường (normal)', r.normal_level_m], ['lũ thiết kế (design flood)', r.design_flood_level_m]].filter(([, v]) => v !== undefined);
      const where = `WHERE "station" = ${lit(r.id)} AND $timeFilter GROUP BY time($__interval) fill(none)`;
      return [
        timeseries({
          title: `${r.name} — mực nước hồ (reservoir level)`,
          description: `Các mức (levels): ${named.map(([n, v]) => `${n} ${v} m`).join(', ') || 'chưa cấu hình (none configured)'}.`,
          unit: 'lengthm',
          axisLabel: metricLabel('reservoir_level'),
          targets: [influx('A', `SELECT mean("reservoir_level") FROM "reservoir" ${where}`, 'mực nước hồ (level)')],
          grid: { x: 0, y: i * 9, w: 12, h: 9 },
          steps,
          thresholdStyle: 'line',
        }),
        timeseries({
          title: `${r.name} — lưu lượng đến, xả${spillway.has(r.id) ? ', qua tràn' : ''} (inflow, outflow${spillway.has(r.id) ? ', spillway' : ''})`,
          ...(spillway.has(r.id) ? {} : { description: 'Không thiết bị nào của hồ này báo lưu lượng qua tràn (no device of this reservoir reports its spillway discharge: config/modbus.yaml has no register map for it).' }),
          unit: 'flowcms',
          axisLabel: 'Lưu lượng (Discharge), m³/s',
          min: 0,
          targets: [
            influx('A', `SELECT mean("inflow") FROM "reservoir" ${where}`, 'lưu lượng đến (inflow)'),
            influx('B', `SELECT mean("outflow") FROM "reservoir" ${where}`, 'lưu lượng xả (outflow)'),
            ...(spillway.has(r.id) ? [influx('C', `SELECT mean("spillway") FROM "reservoir" ${where}`, 'qua tràn (spillway)')] : []),
          ],
          grid: { x: 12, y: i * 9, w: 12, h: 9 },
        }),
      ];
    }),
  }));

  // ---- rainfall: hourly bars and 24 h totals against the national rainfall classes
  const rainSteps: Step[] = [{ value: null, color: 'green' }, ...std.rainfall.classes_24h_mm.map((c, i) => ({ value: c.min, color: ['#8ab8ff', '#f2cc0c', '#e02f44'][i] ?? 'purple' }))];
  add('hydromet', dashboard({
    uid: 'huewatch-rainfall',
    title: 'Lượng mưa — theo giờ và 24 giờ (Rainfall — hourly and 24 h totals)',
    description: 'Lượng mưa cộng theo giờ, và tổng 24 giờ qua tại mỗi trạm so với các cấp mưa 24 giờ. Rainfall (mm in the interval ending at each reading) summed per hour, and the last 24 h per gauge against the 24 h classes of config/vn-standards.json.',
    tags: ['rain'],
    panels: [
      timeseries({
        title: 'Lượng mưa theo giờ tại từng trạm (Hourly rainfall by gauge)',
        unit: 'lengthmm',
        axisLabel: metricLabel('rainfall'),
        min: 0,
        bars: true,
        targets: [influx('A', 'SELECT sum("rainfall") FROM "rain" WHERE $timeFilter GROUP BY time(1h), "station" fill(none)', '$tag_station')],
        grid: { x: 0, y: 0, w: 24, h: 10 },
      }),
      bargauge({
        title: 'Lượng mưa 24 giờ qua (Rainfall, last 24 h)',
        description: `Cấp mưa 24 giờ (24 h classes): ${std.rainfall.classes_24h_mm.map((c) => `${c.vi} ≥ ${c.min} mm`).join(', ')}; ngưỡng lũ quét (flash-flood bands) ${std.rainfall.flash_flood_24h_bands_mm.join(' / ')} mm.`,
        unit: 'lengthmm',
        targets: [influx('A', 'SELECT sum("rainfall") FROM "rain" WHERE time > now() - 24h GROUP BY "station"', '$tag_station')],
        grid: { x: 0, y: 10, w: 24, h: 8 },
        steps: rainSteps,
      }),
    ],
  }));

  // ---- air: no AQI field is written yet, so each pollutant is charted with the VN_AQI
  // breakpoints (Decision 1459/QĐ-TCMT) as thresholds in the official category colours
  const colours = std.vn_aqi.categories.map((c) => rgbHex(c.rgb));
  const pollutants = [['pm25', 'pm25', 'Bụi PM2.5 (PM2.5)'], ['pm10', 'pm10', 'Bụi PM10 (PM10)'], ['o3', 'o3_1h', 'Ôzôn O₃, ngưỡng 1 giờ (Ozone, 1 h breakpoints)'], ['no2', 'no2', 'NO₂'], ['so2', 'so2', 'SO₂'], ['co', 'co', 'CO']] as const;
  const airStations = byKind('air');
  add('environment', dashboard({
    uid: 'huewatch-air',
    title: 'Chất lượng không khí — các mức VN_AQI (Air quality — VN_AQI bands)',
    description: 'Nồng độ chất ô nhiễm (µg/m³) tại từng trạm; nền màu là các mức VN_AQI (Tốt … Nguy hại) theo Quyết định 1459/QĐ-TCMT. Pollutant concentrations (µg/m³) per station; background bands are the VN_AQI categories (Tốt … Nguy hại) of Decision 1459/QĐ-TCMT at the concentrations where each sub-index starts. No VN_AQI field is written to InfluxDB yet; the bands show the category of each hourly concentration, not the NowCast-based index the rules compute.',
    tags: ['air', 'aqi'],
    panels: [
      ...pollutants.map(([field, bp, label], i) => {
        const breaks = std.vn_aqi.breakpoints[bp] ?? [];
        // breakpoint k starts AQI band k (0–50, 51–100, …); bands 6 and 7 are both "hazardous"
        const steps: Step[] = [{ value: null, color: colours[0]! }];
        for (let k = 1; k < Math.min(breaks.length - 1, colours.length); k++) if (breaks[k] != null) steps.push({ value: breaks[k]!, color: colours[k]! });
        return timeseries({
          title: `${label} — theo trạm (by station)`,
          description: `Ngưỡng VN_AQI (VN_AQI breakpoints) của ${label}: ${breaks.filter((b) => b != null).join(', ')} µg/m³.`,
          unit: 'conμgm3', // Grafana's unit id for µg/m³
          axisLabel: `${label}, µg/m³`,
          min: 0,
          targets: [influx('A', `SELECT mean(${JSON.stringify(field)}) FROM "air" WHERE $timeFilter GROUP BY time($__interval), "station" fill(none)`, '$tag_station')],
          grid: { x: (i % 2) * 12, y: Math.floor(i / 2) * 9, w: 12, h: 9 },
          steps,
          thresholdStyle: 'line+area',
        });
      }),
      timeseries({
        title: 'Nhiệt độ và độ ẩm (Temperature and humidity)',
        description: `Các trạm (stations): ${airStations.map((s) => s.name).join(', ')}.`,
        unit: 'celsius',
        axisLabel: `${metricLabel('temperature')}; ${metricLabel('humidity')}`,
        targets: [
          influx('A', 'SELECT mean("temperature") FROM "air" WHERE $timeFilter GROUP BY time($__interval), "station" fill(none)', 'nhiệt độ (temperature) $tag_station'),
          influx('B', 'SELECT mean("humidity") FROM "air" WHERE $timeFilter GROUP BY time($__interval), "station" fill(none)', 'độ ẩm (humidity) $tag_station'),
        ],
        grid: { x: 0, y: 27, w: 24, h: 8 },
      }),
    ],
  }));

  // ---- fisheries: vessel positions on a Geomap, heading from course over ground
  const vesselQuery = 'SELECT last("lat") AS "lat", last("lon") AS "lon", last("sog") AS "sog", last("cog") AS "cog" FROM "vessel" WHERE $timeFilter GROUP BY "vessel"';
  add('fisheries', dashboard({
    uid: 'huewatch-fisheries',
    title: 'Thủy sản — vị trí tàu cá (Fisheries — vessel positions)',
    description: 'Vị trí mới nhất của mỗi tàu cá (AIS và VMS), hướng theo hướng đi, trên các vùng khai thác. Latest position of each vessel (AIS and VMS) from measurement `vessel`, heading from course over ground, over the fishing zones of config/hue-sea-zones.geojson (mounted into Grafana at public/maps/). The rules process writes measurement `vessel` with STORE=influx (store/influx-vessels.ts).',
    tags: ['vessels', 'fisheries'],
    time: 'now-6h',
    panels: [
      panel({
        type: 'geomap',
        title: 'Tàu cá (Vessels)',
        datasource: INFLUX,
        gridPos: { x: 0, y: 0, w: 16, h: 18 },
        targets: [influx('A', vesselQuery, undefined, 'table')],
        fieldConfig: { defaults: { color: { mode: 'thresholds' as never }, thresholds: { mode: 'absolute' as never, steps: [{ value: null, color: 'blue' }] } }, overrides: [] },
        options: {
          view: { id: 'coords', lat: 16.45, lon: 107.75, zoom: 9 },
          controls: { showZoom: true, mouseWheelZoom: true, showAttribution: true },
          // No internet at run time: no tile basemap; the sea zones are drawn from the repo's GeoJSON.
          basemap: { type: 'geojson', name: 'Vùng biển (Sea zones)', config: { src: 'public/maps/hue-sea-zones.geojson', rules: [], style: { color: { fixed: '#8ab8ff' }, opacity: 0.3 } } },
          layers: [{
            type: 'markers',
            name: 'Tàu cá (Vessels)',
            location: { mode: 'coords', latitude: 'lat', longitude: 'lon' },
            config: {
              showLegend: false,
              style: {
                symbol: { mode: 'fixed', fixed: 'img/icons/marker/triangle.svg' },
                rotation: { field: 'cog', mode: 'field', fixed: 0, min: 0, max: 360 },
                size: { fixed: 10 },
                color: { fixed: '#f2cc0c' },
                text: { mode: 'field', field: 'vessel' },
                textConfig: { fontSize: 10, offsetY: -12 },
              },
            },
          }],
          tooltip: { mode: 'details' },
        },
      }),
      panel({
        type: 'table',
        title: 'Vị trí mới nhất (Latest fixes)',
        datasource: INFLUX,
        gridPos: { x: 16, y: 0, w: 8, h: 18 },
        targets: [influx('A', vesselQuery, undefined, 'table')],
        fieldConfig: { defaults: {}, overrides: [] },
        options: { showHeader: true, sortBy: [{ displayName: 'Time', desc: true }] },
      }),
    ],
  }));

  // ---- platform health: Prometheus (the platform's /metrics) plus device health from InfluxDB
  const ts = (title: string, unit: string, targets: Array<Record<string, unknown>>, grid: { x: number; y: number; w: number; h: number }, description?: string): Panel =>
    timeseries({ title, unit, targets, grid, datasource: PROMETHEUS, ...(description ? { description } : {}) });
  add('platform', dashboard({
    uid: 'huewatch-platform',
    title: 'Tình trạng hệ thống (Platform health)',
    description: 'Tốc độ tiếp nhận, bản tin bị loại, độ trễ ghi, quy tắc và sự kiện cảnh báo; pin và tín hiệu thiết bị. Ingest rate, drops, store write latency, rules and alert events from the platform\'s Prometheus metrics (/metrics, scraped by the compose `prometheus` service); device battery and signal from InfluxDB. Spool depth and end-to-end alert latency are not exported as metrics yet.',
    tags: ['platform'],
    time: 'now-6h',
    refresh: '10s',
    panels: [
      row('Tiếp nhận (Ingest)', 0),
      ts('Tốc độ tiếp nhận (Ingest rate)', 'reqps', [prom('A', 'sum(rate(huewatch_ingest_messages_total[$__rate_interval]))', 'bản tin/s (messages/s)'), prom('B', 'sum(rate(huewatch_ingest_readings_stored_total[$__rate_interval]))', 'số đo đã lưu/s (readings stored/s)')], { x: 0, y: 1, w: 8, h: 8 }),
      ts('Bản tin bị loại theo mã (Dropped messages by code)', 'reqps', [prom('A', 'sum by (code) (rate(huewatch_ingest_dropped_total[$__rate_interval]))', '{{code}}')], { x: 8, y: 1, w: 8, h: 8 }, 'Bản tin bị từ chối (sai định dạng, thiết bị lạ, …) theo mã HW_ERR. Messages ingest refused (invalid payload, unknown device, …), by HW_ERR code.'),
      ts('Độ trễ ghi dữ liệu (Store write latency, p50 / p95)', 's', [
        prom('A', 'histogram_quantile(0.5, sum by (le) (rate(huewatch_ingest_write_seconds_bucket[$__rate_interval])))', 'p50'),
        prom('B', 'histogram_quantile(0.95, sum by (le) (rate(huewatch_ingest_write_seconds_bucket[$__rate_interval])))', 'p95'),
      ], { x: 16, y: 1, w: 8, h: 8 }),
      row('Quy tắc và cảnh báo (Rules and alerts)', 9),
      ts('Số đo quy tắc đã xử lý (Observations handled by the rules)', 'reqps', [prom('A', 'sum(rate(huewatch_rules_obs_handled_total[$__rate_interval]))', 'đã xử lý/s (handled/s)'), prom('B', 'sum(rate(huewatch_rules_errors_total[$__rate_interval])) or vector(0)', 'lỗi/s (errors/s)')], { x: 0, y: 10, w: 12, h: 8 }),
      ts('Sự kiện cảnh báo đã phát (Alert events published)', 'short', [prom('A', 'sum by (msgType) (increase(huewatch_alert_events_total[$__rate_interval]))', '{{msgType}}')], { x: 12, y: 10, w: 12, h: 8 }),
      row('Broker và thiết bị (Broker and devices)', 18),
      ts('Kết nối MQTT và từ chối (MQTT clients and refusals)', 'short', [prom('A', 'sum(huewatch_broker_clients)', 'kết nối (clients)'), prom('B', 'sum by (reason) (rate(huewatch_broker_refused_total[$__rate_interval]))', 'từ chối (refused) {{reason}}/s')], { x: 0, y: 19, w: 8, h: 8 }),
      timeseries({ title: 'Pin trạm đo (Station battery)', unit: 'volt', axisLabel: metricLabel('battery_v'), targets: [influx('A', 'SELECT last("battery_v") FROM "device" WHERE $timeFilter GROUP BY time($__interval), "station" fill(none)', '$tag_station')], grid: { x: 8, y: 19, w: 8, h: 8 } }),
      timeseries({ title: 'Tín hiệu trạm đo (Station signal, RSSI)', unit: 'dBm', axisLabel: metricLabel('rssi'), targets: [influx('A', 'SELECT last("rssi") FROM "device" WHERE $timeFilter GROUP BY time($__interval), "station" fill(none)', '$tag_station')], grid: { x: 16, y: 19, w: 8, h: 8 } }),
    ],
  }));
  return out;
}

/** The file each dashboard is committed as: dashboards/json/<folder>/<uid>.json, pretty-printed. */
export const renderDashboard = (b: BuiltDashboard) => JSON.stringify(b.dashboard, null, 2) + '\n';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const b of buildDashboards()) {
    const file = join(JSON_DIR, b.folder, b.file);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, renderDashboard(b));
    process.stdout.write(`wrote ${file}\n`);
  }
}
