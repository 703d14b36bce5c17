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
import { operatorRoutes } from './routes/operator.ts';
import { consoleRoutes } from './routes/console.ts';
import { capRoutes } from './routes/cap.ts';
import { pushRoutes, type PushRouteDeps } from './routes/push.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { manualAlertRoutes } from './routes/manual-alerts.ts';
import { vesselRoutes, type VesselRouteDeps } from './routes/vessels.ts';
import { stormRoutes, type DeclareStorm } from './routes/storms.ts';
import { modbusRoutes, type ModbusRouteDeps } from './routes/modbus.ts';
import type { OperatorActions } from '../rules/operator-actions.ts';
import { DEFAULT_CAP_OPTIONS, type CapOptions } from '../delivery/cap.ts';
import type { DeliveryMetrics } from '../delivery/metrics.ts';
import type { AlertEvent } from '../contract/alert.ts';

export interface ApiOptions {
  store: TimeSeriesStore;
  /** the state store, or the rules process's over RPC (platform/rules-rpc.ts STATE_METHODS) */
  state: Pick<StateStore, 'getDevice' | 'listDevices' | 'getAlert' | 'alertHistory' | 'listAlerts' | 'listJson'>;
  stations: readonly Station[];
  feed: AlertFeed;
  metrics: Registry;
  log: Logger;
  tokens: readonly ApiToken[];
  /** sha256 hex of the services' bearer tokens: they may read the device directory, nothing else */
  serviceTokens?: readonly string[];
  registerDevice(deviceId: string, station: string): Promise<{ secret: string }>;
  clock?: { now(): number };
  /** the rules engine's operator actions (in this process, or the rules process's over RPC) */
  operator?: OperatorActions;
  /** CAP sender and base URL for /cap (defaults: DEFAULT_CAP_OPTIONS) */
  cap?: CapOptions;
  push?: PushRouteDeps['push'];
  publishManualAlert?(event: AlertEvent): Promise<void>;
  vessels?: VesselRouteDeps['vessels'];
  declareStorm?: DeclareStorm;
  /** the Modbus poller of this process: register writes, and device health in a station's status */
  modbus?: ModbusRouteDeps & { stationHealth(stationId: string): unknown[] };
  /** per-channel delivery counters and latency (SSE and CAP are counted here) */
  deliveryMetrics?: DeliveryMetrics;
  /** what degrades the platform without stopping it (e.g. the store down, readings spooled): /health says so */
  degraded?: () => unknown[];
  /** web console options; the console is served at / */
  console?: { tileUrl?: string };
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

  // 200 while degraded (the store is down and readings are spooled): restarting would not help
  app.get('/health', async () => {
    const problems = opts.degraded?.() ?? [];
    return { status: problems.length > 0 ? 'degraded' : 'ok', uptimeS: Math.round(process.uptime()), ...(problems.length > 0 ? { problems } : {}) };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(opts.metrics.contentType);
    return opts.metrics.metrics();
  });
  await app.register(async (scope) => stationRoutes(scope, deps));
  await app.register(async (scope) => alertRoutes(scope, deps));
  await app.register(async (scope) => streamRoutes(scope, deps));
  await app.register(async (scope) => deviceRoutes(scope, deps));
  await app.register(async (scope) => capRoutes(scope, { state: opts.state, cap: opts.cap ?? DEFAULT_CAP_OPTIONS, clock: deps.clock, ...(opts.deliveryMetrics ? { metrics: opts.deliveryMetrics } : {}) }));
  await app.register(async (scope) => webhookRoutes(scope, { state: opts.state, requireRole: deps.requireRole }));
  await app.register(async (scope) => consoleRoutes(scope, opts.console ?? {}));
  const { operator, push, publishManualAlert, vessels, declareStorm, modbus } = opts;
  if (operator) await app.register(async (scope) => operatorRoutes(scope, { ...deps, operator }));
  if (push) await app.register(async (scope) => pushRoutes(scope, { push }));
  if (publishManualAlert) await app.register(async (scope) => manualAlertRoutes(scope, { requireRole: deps.requireRole, publishManualAlert, clock: deps.clock }));
  if (vessels) await app.register(async (scope) => vesselRoutes(scope, { vessels, clock: deps.clock, auth: deps.requireRole('viewer') }));
  if (declareStorm) await app.register(async (scope) => stormRoutes(scope, { ...deps, declareStorm }));
  if (modbus) await app.register(async (scope) => modbusRoutes(scope, { ...deps, modbus }));
  return app;
}
