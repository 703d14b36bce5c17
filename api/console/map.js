// The province map on Leaflet (served by the platform from node_modules under /console/lib/, so it
// works with no internet): land and coast from OpenStreetMap (config/geo/), the districts and the
// communes (config/geo/), the sea zones and the fishing boundary (config/hue-sea-zones.geojson),
// stations coloured by state, vessels with their heading (clustered) and the selected vessel's
// track, storm areas, and open alerts. An XYZ tile layer goes underneath when the deployment set
// CONSOLE_TILE_URL.
import { STATE_COLOURS } from './api.js';
import { T } from './words.js';

const LIB = '/console/lib/';
export const STORM_COLOUR = '#8e24aa';
export const VESSEL_COLOUR = '#0b3d91';
export const TRACK_COLOUR = '#00838f';
const ZONE_FILL = { 'fishing-zone': '#7fb0dc', 'no-fishing': '#f08c96' };
/** below this zoom the station names are hidden (they overlap over the whole province) */
const LABEL_ZOOM = 10;

/** The overlays an operator turns on and off (the control on the map), Vietnamese first. */
export const LAYERS = [
  ['stations', T.layers.stations],
  ['vessels', T.layers.vessels],
  ['tracks', T.layers.tracks],
  ['storms', T.layers.storms],
  ['zones', T.layers.zones],
  ['alerts', T.layers.alerts],
  ['districts', T.layers.districts],
  ['communes', T.layers.communes],
];

let loading;
/** Leaflet, then markercluster (a plugin of the global L), each once. */
export function loadMapLibrary() {
  loading ??= (async () => {
    for (const css of ['leaflet.css', 'MarkerCluster.css', 'MarkerCluster.Default.css']) {
      const link = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: LIB + css });
      document.head.prepend(link);
    }
    for (const js of ['leaflet.js', 'leaflet.markercluster.js']) {
      await new Promise((ok, fail) => {
        const s = Object.assign(document.createElement('script'), { src: LIB + js, onload: ok, onerror: () => fail(new Error(`${js} did not load`)) });
        document.head.append(s);
      });
    }
    return window.L;
  })();
  return loading;
}

const stationSvg = (kind) => kind === 'river'
  ? '<svg viewBox="-10 -10 20 20" width="20" height="20"><circle r="7"></circle></svg>'
  : `<svg viewBox="-10 -10 20 20" width="20" height="20"><rect x="-6" y="-6" width="12" height="12"${kind === 'rain' ? ' transform="rotate(45)"' : ''}></rect></svg>`;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export async function createMap(host, { land, geo, districts, communes, stations, tileUrl, onSelect, onVesselSelect = () => {} }) {
  const L = await loadMapLibrary();
  host.classList.add('map');
  // markercluster needs a maxZoom even with no tile layer
  const map = L.map(host, { zoomSnap: 0.5, minZoom: 7, maxZoom: 16, attributionControl: true });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.createPane('zones').style.zIndex = 240;
  map.createPane('land').style.zIndex = 250;
  // over the land: the communes' thin lines, then the districts' (their fill takes the pointer)
  map.createPane('communes').style.zIndex = 251;
  map.createPane('districts').style.zIndex = 252;
  map.createPane('areas').style.zIndex = 410;
  if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 18, attribution: T.tiles }).addTo(map);

  // land over the sea zones: the zones' landward edges (a model) disappear under the real coast
  L.geoJSON(land, {
    pane: 'land', interactive: false, attribution: '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> (ODbL)',
    // Việt Nam's land edge is the coast (and the border); Laos is drawn apart, greyer
    style: (f) => f.properties.kind === 'land'
      ? { className: 'coastline land', color: '#5b6b7a', weight: 1.2, fillColor: '#f4f1e8', fillOpacity: tileUrl ? 0.25 : 1 }
      : { className: 'land abroad', color: '#9a8f7a', weight: 1.5, dashArray: '6 3', fillColor: '#e4e0d6', fillOpacity: tileUrl ? 0.25 : 1 },
  }).addTo(map);

  const layers = {};
  // district boundaries (config/geo/hue-districts.geojson); filled by forest-fire level when known
  const districtShapes = new Map();
  layers.districts = L.geoJSON(districts ?? { type: 'FeatureCollection', features: [] }, {
    pane: 'districts',
    attribution: 'Ranh giới huyện: dvhcvn / gis.chinhphu.vn (GPL-3.0)',
    style: () => ({ className: 'district', color: '#6d6a8a', weight: 1.2, dashArray: '4 3', fill: true, fillOpacity: 0 }),
    onEachFeature: (f, l) => {
      districtShapes.set(f.properties.name, l);
      l.on('add', () => { const el = l.getElement(); if (el) el.dataset.district = f.properties.name; });
      l.bindTooltip(esc(f.properties.name), { sticky: true });
    },
  });
  // commune and ward boundaries (xã, phường of 2025: config/geo/hue-communes.geojson), thin, under
  // the districts; named on the element, the district's tooltip stays the one that answers the pointer
  layers.communes = L.geoJSON(communes ?? { type: 'FeatureCollection', features: [] }, {
    pane: 'communes',
    interactive: false,
    attribution: 'Ranh giới xã, phường: vietnamese-provinces-database / sapnhap.bando.com.vn (MIT)',
    style: () => ({ className: 'commune', color: '#8c89a6', weight: 0.7, fill: false }),
    onEachFeature: (f, l) => l.on('add', () => { const el = l.getElement(); if (el) el.dataset.commune = f.properties.name; }),
  });
  layers.zones = L.geoJSON(geo, {
    pane: 'zones',
    filter: (f) => f.properties.kind !== 'coastline' && f.geometry.type !== 'Point',
    style: (f) => f.geometry.type === 'LineString'
      ? { className: f.properties.kind, color: '#b03a48', weight: 2, dashArray: '8 5' }
      : { className: `zone ${f.properties.kind}`, color: '#6c8fb3', weight: 1, fillColor: ZONE_FILL[f.properties.kind] ?? '#cccccc', fillOpacity: 0.45 },
    onEachFeature: (f, l) => l.bindTooltip(esc(f.properties.name ?? f.properties.id), { sticky: true }),
  });
  for (const f of geo.features.filter((x) => x.properties.kind === 'port')) {
    const [lon, lat] = f.geometry.coordinates;
    L.marker([lat, lon], { icon: L.divIcon({ className: 'port', html: `<i></i><span class="label">${esc(f.properties.name)}</span>`, iconSize: [10, 10] }), keyboard: false })
      .bindTooltip(`${T.port}: ${esc(f.properties.name)}`).addTo(layers.zones);
  }

  // stations: a circle for a river gauge, a square for the others (a diamond for rain)
  layers.stations = L.layerGroup();
  const markers = new Map();
  for (const s of stations) {
    const icon = L.divIcon({ className: `station kind-${s.kind}`, html: `${stationSvg(s.kind)}<span class="label">${esc(s.name)}</span>`, iconSize: [20, 20], iconAnchor: [10, 10] });
    const m = L.marker([s.lat, s.lon], { icon, title: `${s.name} (${T.kind[s.kind] ?? s.kind})`, riseOnHover: true }).on('click', () => onSelect(s));
    markers.set(s.id, { m, state: 'offline' });
    // a marker's element is made each time it is added (the layer switch): name and colour it then
    m.on('add', () => {
      m.getElement().addEventListener('keydown', (e) => e.key === 'Enter' && onSelect(s));
      paint(s.id);
    });
    m.addTo(layers.stations);
  }
  function paint(id) {
    const h = markers.get(id);
    const el = h?.m.getElement();
    if (!el) return;
    el.dataset.station = id;
    el.dataset.state = h.state;
    el.querySelector('circle, rect').setAttribute('fill', STATE_COLOURS[h.state]);
  }

  // vessels: clustered; each a triangle pointing along its heading (or course over ground)
  layers.vessels = L.markerClusterGroup({
    maxClusterRadius: 36,
    showCoverageOnHover: false,
    iconCreateFunction: (c) => L.divIcon({ className: 'vessel-cluster', html: `<span data-count="${c.getChildCount()}">${c.getChildCount()}</span>`, iconSize: [30, 30] }),
  });
  const vesselMarkers = new Map();
  layers.tracks = L.layerGroup();
  layers.storms = L.layerGroup();
  layers.alerts = L.layerGroup();

  for (const [id] of LAYERS) layers[id].addTo(map);
  const bounds = L.latLngBounds(stations.map((s) => [s.lat, s.lon]));
  for (const f of geo.features) if (f.properties.kind === 'port') bounds.extend([f.geometry.coordinates[1], f.geometry.coordinates[0]]);
  map.fitBounds(bounds.pad(0.08));
  const labels = () => host.classList.toggle('show-labels', map.getZoom() >= LABEL_ZOOM);
  map.on('zoomend', labels);
  labels();

  // the layer switch: a control on the map, Vietnamese first
  const Toggle = L.Control.extend({
    onAdd() {
      // folded on a phone, where it would cover the map; open on a desk
      const box = L.DomUtil.create('details', 'layer-toggle leaflet-bar');
      box.open = !window.matchMedia('(max-width: 600px)').matches;
      box.innerHTML = `<summary>${T.layers.title}</summary>` + LAYERS.map(([id, label]) => `<label><input type="checkbox" data-layer="${id}" checked> ${label}</label>`).join('');
      L.DomEvent.disableClickPropagation(box);
      box.addEventListener('change', (e) => {
        const l = layers[e.target.dataset.layer];
        if (e.target.checked) l.addTo(map);
        else l.remove();
      });
      return box;
    },
  });
  new Toggle({ position: 'topright' }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);

  let alertsDrawn;
  const vesselIcon = (v) => {
    const deg = v.position.heading ?? v.position.cog ?? 0;
    return L.divIcon({
      className: 'vessel',
      html: `<svg viewBox="-11 -11 22 22" width="22" height="22" style="transform: rotate(${deg}deg)"><path d="M0,-10 L7,8 L0,4 L-7,8 Z" fill="${VESSEL_COLOUR}" stroke="#fff" stroke-width="1.5"></path></svg>`,
      iconSize: [22, 22],
      iconAnchor: [11, 11],
    });
  };

  return {
    leaflet: map,
    /** fills each district with its forest-fire level's colour (`{ district name: css colour }`), as console/fire.js reads it */
    setDistrictFill(colours) {
      for (const [name, l] of districtShapes) {
        const colour = colours[name];
        l.setStyle(colour ? { fillColor: colour, fillOpacity: 0.22 } : { fillOpacity: 0 });
        const el = l.getElement();
        if (el) el.dataset.fire = colour ?? '';
      }
    },
    setState(id, state) {
      const h = markers.get(id);
      if (!h || h.state === state) return;
      h.state = state;
      paint(id);
    },
    select(id) {
      for (const [k, h] of markers) h.m.getElement()?.classList.toggle('selected', k === id);
    },
    /** vessels as GET /api/v1/vessels lists them: `{ vesselId, name, position: { lat, lon, cog, heading, sog, ts } }` */
    setVessels(vessels) {
      const seen = new Set();
      for (const v of vessels) {
        const p = v.position;
        if (!p || !Number.isFinite(p.lat) || !Number.isFinite(p.lon)) continue;
        seen.add(v.vesselId);
        let m = vesselMarkers.get(v.vesselId);
        const tip = `${esc(v.name ?? v.vesselId)} · ${esc(v.vesselId)}${p.sog !== null && p.sog !== undefined ? ` · ${p.sog} kn` : ''}`;
        if (!m) {
          m = L.marker([p.lat, p.lon], { icon: vesselIcon(v), title: v.name ?? v.vesselId });
          m.on('click', () => onVesselSelect(v.vesselId));
          m.on('add', () => Object.assign(m.getElement().dataset, { vessel: v.vesselId, heading: String(m.options.heading ?? '') }));
          m.bindTooltip(tip);
          vesselMarkers.set(v.vesselId, m);
          layers.vessels.addLayer(m);
        } else {
          layers.vessels.removeLayer(m);
          m.setLatLng([p.lat, p.lon]).setIcon(vesselIcon(v)).setTooltipContent(tip);
          layers.vessels.addLayer(m);
        }
        m.options.heading = p.heading ?? p.cog ?? 0;
        const el = m.getElement();
        if (el) Object.assign(el.dataset, { vessel: v.vesselId, heading: String(m.options.heading) });
      }
      for (const [id, m] of vesselMarkers) if (!seen.has(id)) { layers.vessels.removeLayer(m); vesselMarkers.delete(id); }
    },
    /** the track of one vessel, a GeoJSON Feature from GET /api/v1/vessels/:id/track */
    setTrack(vesselId, feature) {
      layers.tracks.clearLayers();
      if (!feature?.geometry) return;
      const line = L.polyline(feature.geometry.coordinates.map(([lon, lat]) => [lat, lon]), { className: 'track', color: TRACK_COLOUR, weight: 3, opacity: 0.9 });
      line.on('add', () => { line.getElement().dataset.vessel = vesselId; });
      line.bindTooltip(`${T.track}: ${esc(vesselId)}`).addTo(layers.tracks);
    },
    /** storm danger areas as GET /api/v1/storm-areas lists them */
    setStormAreas(areas) {
      layers.storms.clearLayers();
      for (const a of areas) {
        const style = { pane: 'areas', className: 'storm-area', color: STORM_COLOUR, weight: 2, fillColor: STORM_COLOUR, fillOpacity: 0.3 };
        const shape = a.circle ? L.circle([a.circle.lat, a.circle.lon], { ...style, radius: a.circle.radiusKm * 1000 }) : L.polygon(a.polygon.map(([lon, lat]) => [lat, lon]), style);
        shape.on('add', () => { shape.getElement().dataset.storm = a.id; });
        shape.bindTooltip(`${T.stormArea}: ${esc(a.name)} · ${a.vessels.length} ${T.vesselsInside}`, { sticky: true }).addTo(layers.storms);
      }
    },
    /** open alerts with a place: a ring in the level's colour at the station (or the alert's circle) */
    setAlerts(open, stationById) {
      // called on every render: redraw only when the open alerts changed
      const sig = open.map((a) => `${a.id}:${a.eventSeq}:${a.level}`).join(',');
      if (sig === alertsDrawn) return;
      alertsDrawn = sig;
      layers.alerts.clearLayers();
      for (const a of open) {
        const st = stationById.get(a.source?.station);
        const at = st ? [st.lat, st.lon] : a.area?.circle ? [a.area.circle.lat, a.area.circle.lon] : a.area?.polygon?.[0];
        if (!at) continue;
        const colour = STATE_COLOURS[`level-${Math.min(Math.max(a.level, 1), 3)}`];
        const m = L.marker(at, {
          icon: L.divIcon({ className: 'alert-ring', html: `<svg viewBox="-16 -16 32 32" width="32" height="32"><circle r="13" fill="none" stroke="${colour}" stroke-width="4"></circle></svg>`, iconSize: [32, 32], iconAnchor: [16, 16] }),
          interactive: true, keyboard: false, zIndexOffset: -100,
        });
        m.on('add', () => Object.assign(m.getElement().dataset, { alertKey: a.key, alertId: a.id, alertLevel: String(a.level) }));
        m.bindTooltip(`${esc(a.headline.vi)}<br><small>${esc(a.headline.en)}</small>`).addTo(layers.alerts);
      }
    },
  };
}
