// Words for people: every label of the console, Vietnamese first with English beside, and the
// metric names and units from the platform's metric catalogue (contract/metrics.ts, served as
// /console-data/metrics.json), so a metric id (`water_level`) never reaches the screen.
import { getJson } from './api.js';

export const T = {
  layers: {
    title: 'Lớp bản đồ (Map layers)',
    stations: 'Trạm đo (Stations)',
    vessels: 'Tàu cá (Vessels)',
    tracks: 'Hành trình (Track)',
    storms: 'Vùng bão (Storm areas)',
    zones: 'Vùng biển (Sea zones)',
    alerts: 'Cảnh báo (Alerts)',
    districts: 'Ranh giới huyện (Districts)',
    communes: 'Ranh giới xã, phường (Communes)',
  },
  kind: { river: 'trạm thủy văn (river gauge)', rain: 'trạm đo mưa (rain gauge)', air: 'trạm không khí (air quality)', reservoir: 'hồ chứa (reservoir)', weather: 'trạm khí tượng (weather station)' },
  port: 'Cảng cá (Fishing port)',
  track: 'Hành trình (Track)',
  stormArea: 'Vùng nguy hiểm do bão (Storm danger area)',
  vesselsInside: 'tàu bên trong (vessels inside)',
  tiles: 'Nền bản đồ (Base map)',
  vnTime: 'giờ Việt Nam (UTC+7)',
  last24h: '24 giờ qua (last 24 h)',
  threshold: 'ngưỡng (threshold)',
};

let labels = {};
/** Loads the metric table once; the console calls it before drawing. */
export async function loadMetricLabels() {
  const r = await getJson('/console-data/metrics.json').catch(() => ({ ok: false }));
  if (r.ok) labels = r.body;
  return labels;
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
/** "Mực nước (Water level)" */
export const metricName = (id) => (labels[id] ? `${cap(labels[id].vi)} (${cap(labels[id].en)})` : id);
/** "m³/s", "µg/m³": the unit as people read it */
export const metricUnit = (id) => labels[id]?.unit ?? '';
/** "Mực nước (Water level), m" */
export const metricLabel = (id) => (labels[id] ? `${metricName(id)}, ${metricUnit(id)}` : id);
/** "1,25 m": a value with its unit, in Vietnamese number format */
export const metricValue = (id, v) => `${new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 2 }).format(v)}${metricUnit(id) ? ` ${metricUnit(id)}` : ''}`;
