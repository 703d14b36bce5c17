import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Station } from '../platform/stations.ts';
import type { StateStore, TimeSeriesStore } from '../store/types.ts';
import type { AlertFeed } from './alert-feed.ts';
import { bearerAuth, type ApiToken, type Role } from './auth.ts';
import { installErrorHandler } from './errors.ts';
import { alertRoutes } from './routes/alerts.ts';
import { deviceRoutes } from './routes/devices.ts';
import { stationRoutes } from './routes/stations.ts';
import { streamRoutes } from './routes/stream.ts';

export interface ApiOptions {
  store: TimeSeriesStore;
  state: StateStore;
  stations: readonly Station[];
  feed: AlertFeed;
  metrics: Registry;
  log: Logger;
  tokens: readonly ApiToken[];
  /** sha256 hex of the services' bearer tokens: they may read the device directory, nothing else */
  serviceTokens?: readonly string[];
  registerDevice(deviceId: string, station: string): Promise<{ secret: string }>;
  clock?: { now(): number };
}

export interface ApiDeps extends Omit<ApiOptions, 'tokens' | 'clock'> {
  clock: { now(): number };
  requireRole(role: Role): preHandlerAsyncHookHandler;
}

/** Builds the HTTP API without listening, so tests can use `app.inject()` as well as a socket. */
export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: opts.log.child({ module: 'api' }) as FastifyBaseLogger, bodyLimit: 64 * 1024,
    // one line per request would drown the log; errors and audit lines are still logged
    logController: new LogController({ disableRequestLogging: true }),
  });
  installErrorHandler(app);
  const deps: ApiDeps = { ...opts, clock: opts.clock ?? Date, requireRole: bearerAuth(opts.tokens) };

  app.get('/health', async () => ({ status: 'ok', uptimeS: Math.round(process.uptime()) }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(opts.metrics.contentType);
    return opts.metrics.metrics();
  });
  await app.register(async (scope) => stationRoutes(scope, deps));
  await app.register(async (scope) => alertRoutes(scope, deps));
  await app.register(async (scope) => streamRoutes(scope, deps));
  await app.register(async (scope) => deviceRoutes(scope, deps));
  return app;
}
