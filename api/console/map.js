// The province map on SVG, in Web Mercator pixels at zoom ZOOM, so an optional XYZ tile layer
// lines up with the drawing. Coast, fishing zones, ports from config/hue-sea-zones.geojson.
import { STATE_COLOURS, svg } from './api.js';

const ZOOM = 10;
const WORLD = 256 * 2 ** ZOOM;
export function project(lon, lat) {
  const s = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * WORLD, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD];
}

const ZONE_FILL = { 'fishing-zone': '#cfe3f5', 'no-fishing': '#f5c6cb' };

export function createMap(host, { geo, stations, tileUrl, onSelect }) {
  // Frame the province: the stations, the coast and the ports; the offshore zones run off the edge.
  const pts = [...stations.map((s) => project(s.lon, s.lat))];
  for (const f of geo.features) if (['coastline', 'port'].includes(f.properties.kind)) for (const c of coords(f.geometry)) pts.push(project(c[0], c[1]));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = (x1 - x0) * 0.06;
  [x0, x1, y0, y1] = [x0 - pad, x1 + pad * 3, y0 - pad, y1 + pad];
  const unit = (x1 - x0) / 130; // marker size: a fixed share of the map, whatever the zoom
  const root = svg('svg', { viewBox: `${x0} ${y0} ${x1 - x0} ${y1 - y0}`, class: 'map', role: 'img', 'aria-label': 'Bản đồ Thừa Thiên Huế' });
  // clip to the frame: with preserveAspectRatio the letterbox would otherwise show what lies outside
  root.append(svg('defs', {}, svg('clipPath', { id: 'frame' }, svg('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }))));
  const base = svg('g', { 'clip-path': 'url(#frame)' });
  base.append(svg('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: '#e8f1f8' }));

  if (tileUrl) {
    const g = svg('g', { class: 'tiles' });
    for (let tx = Math.floor(x0 / 256); tx <= Math.floor(x1 / 256); tx++) {
      for (let ty = Math.floor(y0 / 256); ty <= Math.floor(y1 / 256); ty++) {
        g.append(svg('image', { href: tileUrl.replace('{z}', ZOOM).replace('{x}', tx).replace('{y}', ty), x: tx * 256, y: ty * 256, width: 256, height: 256 }));
      }
    }
    base.append(g);
  }

  const path = (ring) => ring.map((c, i) => `${i ? 'L' : 'M'}${project(c[0], c[1]).join(',')}`).join('');
  const coast = geo.features.find((f) => f.properties.kind === 'coastline');
  // Land: the coast closed through the map's south-west corner (the province lies south-west of it).
  if (coast && !tileUrl) {
    const c = coast.geometry.coordinates;
    const [sw, se] = [[c[0][0] - 1, c.at(-1)[1] - 1], [c.at(-1)[0], c.at(-1)[1] - 1]];
    base.append(svg('path', { d: path([...c, se, sw, [c[0][0] - 1, c[0][1]]]) + 'Z', fill: '#f4f1e8', stroke: 'none', class: 'land' }));
  }
  for (const f of geo.features) {
    const k = f.properties.kind;
    if (f.geometry.type === 'Polygon') base.append(svg('path', { d: path(f.geometry.coordinates[0]) + 'Z', fill: ZONE_FILL[k] ?? 'none', 'fill-opacity': 0.35, stroke: '#6c8fb3', 'stroke-width': unit / 6, class: `zone ${k}` }, svg('title', {}, f.properties.name ?? f.properties.id)));
    else if (f.geometry.type === 'LineString') base.append(svg('path', { d: path(f.geometry.coordinates), fill: 'none', stroke: k === 'coastline' ? '#5b6b7a' : '#b03a48', 'stroke-width': unit / (k === 'coastline' ? 2.5 : 4), 'stroke-dasharray': k === 'boundary' ? `${unit} ${unit / 2}` : null, class: k }));
    else if (f.geometry.type === 'Point') {
      const [x, y] = project(...f.geometry.coordinates);
      base.append(svg('g', { class: 'port' }, svg('rect', { x: x - unit * 0.6, y: y - unit * 0.6, width: unit * 1.2, height: unit * 1.2, fill: '#1f4e79' }), svg('text', { x: x + unit, y: y + unit * 0.4, 'font-size': unit * 1.6, fill: '#1f4e79' }, f.properties.name)));
    }
  }

  const markers = new Map();
  const stationLayer = svg('g', { class: 'stations' });
  for (const s of stations) {
    const [x, y] = project(s.lon, s.lat);
    const shape = s.kind === 'river' ? svg('circle', { cx: x, cy: y, r: unit * 1.3, fill: STATE_COLOURS.offline })
      : svg('rect', { x: x - unit, y: y - unit, width: unit * 2, height: unit * 2, fill: STATE_COLOURS.offline, transform: s.kind === 'rain' ? `rotate(45 ${x} ${y})` : null });
    const g = svg('g', { class: 'station', 'data-station': s.id, 'data-state': 'offline', tabindex: 0 }, shape,
      // river gauges are labelled on the left, the others on the right: Kim Long and Huế's air station sit side by side
      svg('text', { x: s.kind === 'river' ? x - unit * 1.8 : x + unit * 1.7, y: y + unit * 0.5, 'font-size': unit * 1.5, 'text-anchor': s.kind === 'river' ? 'end' : 'start' }, s.name), svg('title', {}, `${s.name} (${s.kind})`));
    g.addEventListener('click', () => onSelect(s));
    g.addEventListener('keydown', (e) => e.key === 'Enter' && onSelect(s));
    stationLayer.append(g);
    markers.set(s.id, g);
  }
  const vesselLayer = svg('g', { class: 'vessels' });
  base.append(stationLayer, vesselLayer);
  root.append(base);
  host.replaceChildren(root);

  return {
    setState(id, state) {
      const g = markers.get(id);
      if (!g || g.dataset.state === state) return;
      g.dataset.state = state;
      g.firstChild.setAttribute('fill', STATE_COLOURS[state]);
    },
    select(id) { for (const [k, g] of markers) g.classList.toggle('selected', k === id); },
    /** vessels: [{vesselId, lat, lon, cog?, heading?, name?}] drawn as a triangle pointing along the heading */
    setVessels(vessels) {
      vesselLayer.replaceChildren(...vessels.map((v) => {
        const [x, y] = project(v.lon, v.lat);
        const deg = v.heading ?? v.cog ?? 0;
        return svg('g', { class: 'vessel', 'data-vessel': v.vesselId, transform: `translate(${x} ${y}) rotate(${deg})` },
          svg('path', { d: `M0,${-unit * 1.4} L${unit * 0.8},${unit} L${-unit * 0.8},${unit} Z`, fill: '#1f4e79', stroke: '#fff', 'stroke-width': unit / 8 }),
          svg('title', {}, v.name ?? v.vesselId));
      }));
    },
  };
}

function* coords(g) {
  if (g.type === 'Point') yield g.coordinates;
  else if (g.type === 'LineString') yield* g.coordinates;
  else if (g.type === 'Polygon') for (const r of g.coordinates) yield* r;
}
