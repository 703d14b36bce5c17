import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { METRICS, UNIT_LABELS } from '../../contract/metrics.ts';

/**
 * The web console (IOC operators) and the residents' page, served as static files from
 * api/console/ with no build step: plain ES modules that talk to the HTTP API of this same origin
 * (/api/v1/…, SSE on /api/v1/stream). The map is Leaflet (with leaflet.markercluster), served from
 * node_modules under /console/lib/, over the GeoJSON in config/ (land from OpenStreetMap, the sea
 * zones), so it needs no internet; a deployment with its own tile server sets `tileUrl`.
 */
export interface ConsoleOptions {
  /** XYZ tile URL template (`https://…/{z}/{x}/{y}.png`) drawn under the map; none by default */
  tileUrl?: string;
  /** folder of the static files; default api/console */
  root?: string;
  /** the sea zones, coast and ports GeoJSON; default config/hue-sea-zones.geojson */
  seaZonesFile?: string;
  /** the land (and so the coastline) GeoJSON; default config/geo/hue-land.geojson */
  landFile?: string;
}

const HERE = new URL('.', import.meta.url).pathname;
export const CONSOLE_ROOT = join(HERE, '..', 'console');
const SEA_ZONES = join(HERE, '..', '..', 'config', 'hue-sea-zones.geojson');
const LAND = join(HERE, '..', '..', 'config', 'geo', 'hue-land.geojson');
const DISTRICTS = join(HERE, '..', '..', 'config', 'geo', 'hue-districts.geojson');
const COMMUNES = join(HERE, '..', '..', 'config', 'geo', 'hue-communes.geojson');

/** The map library's files, by the name the console asks for (a fixed list: nothing else of node_modules is reachable). */
function mapLibraryFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const leaflet = join(dirname(require.resolve('leaflet/package.json')), 'dist');
  const cluster = join(dirname(require.resolve('leaflet.markercluster/package.json')), 'dist');
  const files = new Map<string, string>([
    ['leaflet.js', join(leaflet, 'leaflet.js')],
    ['leaflet.css', join(leaflet, 'leaflet.css')],
    ['leaflet.markercluster.js', join(cluster, 'leaflet.markercluster.js')],
    ['MarkerCluster.css', join(cluster, 'MarkerCluster.css')],
    ['MarkerCluster.Default.css', join(cluster, 'MarkerCluster.Default.css')],
  ]);
  // leaflet.css names its control icons as images/…
  for (const name of readdirSync(join(leaflet, 'images'))) files.set(`images/${name}`, join(leaflet, 'images', name));
  return files;
}

/** The residents' page's service worker (api/console/resident-sw.js): allowed the scope `/`. */
export const RESIDENT_WORKER = 'resident-sw.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  // the residents' installable web app (W3C Web App Manifest §1.5: its media type)
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
};

/**
 * Files are read once at registration into a fixed map: a request can only name a file that
 * exists in that map, so there is no path to traverse. The console is small (tens of kB).
 */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleOptions = {}) {
  const root = opts.root ?? CONSOLE_ROOT;
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(root)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { body: readFileSync(join(root, name)), type });
  }
  const lib = new Map<string, { body: Buffer; type: string }>();
  for (const [name, path] of mapLibraryFiles()) lib.set(name, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream' });
  const geo = readFileSync(opts.seaZonesFile ?? SEA_ZONES);
  const land = readFileSync(opts.landFile ?? LAND);
  const districts = readFileSync(DISTRICTS);
  const communes = readFileSync(COMMUNES);
  // the metric catalogue's words and units (contract/metrics.ts), one table for every label of the console
  const metrics = JSON.stringify(Object.fromEntries(Object.entries(METRICS).map(([id, m]) => [id, { vi: m.vi, en: m.en, unit: UNIT_LABELS[m.unit] ?? m.unit }])));
  const config = JSON.stringify({ tileUrl: opts.tileUrl ?? null });
  const headers = (type: string) => ({
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // no third-party origin is needed; tiles only when the deployment configured them
    'content-security-policy': `default-src 'self'; img-src 'self' data:${opts.tileUrl ? ' ' + new URL(opts.tileUrl.replace(/[{}]/g, '')).origin : ''}; style-src 'self' 'unsafe-inline'`,
  });

  const send = (name: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const f = files.get(name);
    if (!f) return reply.code(404).send({ code: 'HW_ERR_NOT_FOUND', message: `no ${name}` });
    // the residents' service worker lives beside the page's scripts but serves the page at /resident.html
    if (name === RESIDENT_WORKER) reply.header('service-worker-allowed', '/');
    return reply.headers(headers(f.type)).send(f.body);
  };
  const sendLib = (name: string, reply: import('fastify').FastifyReply) => {
    const f = lib.get(name);
    if (!f) return reply.code(404).send({ code: 'HW_ERR_NOT_FOUND', message: `no ${name}` });
    return reply.headers(headers(f.type)).send(f.body);
  };
  // static files, not API operations: left out of the OpenAPI document
  const hidden = { schema: { hide: true } };
  app.get('/', hidden, send('index.html'));
  app.get('/resident.html', hidden, send('resident.html'));
  app.get<{ Params: { file: string } }>('/console/:file', hidden, async (req, reply) => send(req.params.file)(req, reply));
  app.get<{ Params: { file: string } }>('/console/lib/:file', hidden, async (req, reply) => sendLib(req.params.file, reply));
  app.get<{ Params: { file: string } }>('/console/lib/images/:file', hidden, async (req, reply) => sendLib(`images/${req.params.file}`, reply));
  app.get('/console-data/sea-zones.geojson', hidden, async (_req, reply) => reply.headers(headers('application/geo+json')).send(geo));
  app.get('/console-data/land.geojson', hidden, async (_req, reply) => reply.headers(headers('application/geo+json')).send(land));
  app.get('/console-data/districts.geojson', hidden, async (_req, reply) => reply.headers(headers('application/geo+json')).send(districts));
  app.get('/console-data/communes.geojson', hidden, async (_req, reply) => reply.headers(headers('application/geo+json')).send(communes));
  app.get('/console-data/metrics.json', hidden, async (_req, reply) => reply.headers(headers('application/json')).send(metrics));
  app.get('/console-data/config.json', hidden, async (_req, reply) => reply.headers(headers('application/json')).send(config));
}
