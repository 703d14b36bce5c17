import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * The web console (IOC operators) and the residents' page, served as static files from
 * api/console/ with no build step: plain ES modules that talk to the HTTP API of this same origin
 * (/api/v1/…, SSE on /api/v1/stream). The map is drawn from the GeoJSON in config/, so it needs no
 * internet; a deployment with its own tile server sets `tileUrl`.
 */
export interface ConsoleOptions {
  /** XYZ tile URL template (`https://…/{z}/{x}/{y}.png`) drawn under the map; none by default */
  tileUrl?: string;
  /** folder of the static files; default api/console */
  root?: string;
  /** the sea zones, coast and ports GeoJSON; default config/hue-sea-zones.geojson */
  seaZonesFile?: string;
}

const HERE = new URL('.', import.meta.url).pathname;
export const CONSOLE_ROOT = join(HERE, '..', 'console');
const SEA_ZONES = join(HERE, '..', '..', 'config', 'hue-sea-zones.geojson');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
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
  const geo = readFileSync(opts.seaZonesFile ?? SEA_ZONES);
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
    return reply.headers(headers(f.type)).send(f.body);
  };
  // static files, not API operations: left out of the OpenAPI document
  const hidden = { schema: { hide: true } };
  app.get('/', hidden, send('index.html'));
  app.get('/resident.html', hidden, send('resident.html'));
  app.get<{ Params: { file: string } }>('/console/:file', hidden, async (req, reply) => send(req.params.file)(req, reply));
  app.get('/console-data/sea-zones.geojson', hidden, async (_req, reply) => reply.headers(headers('application/geo+json')).send(geo));
  app.get('/console-data/config.json', hidden, async (_req, reply) => reply.headers(headers('application/json')).send(config));
}
