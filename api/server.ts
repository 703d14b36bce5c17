import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { bearerAuth } from './auth.ts';
import type { ApiDeps, ApiOptions } from './deps.ts';
import { installErrorHandler } from './errors.ts';
import { installOpenApi, withRole } from './openapi.ts';
import { deviceStatusRoutes } from './routes/device-status.ts';
import { alertRoutes } from './routes/alerts.ts';
import { deviceRoutes } from './routes/devices.ts';
import { stationRoutes } from './routes/stations.ts';
import { streamRoutes } from './routes/stream.ts';
import { operatorRoutes } from './routes/operator.ts';
import { consoleRoutes } from './routes/console.ts';
import { capRoutes } from './routes/cap.ts';
import { pushRoutes } from './routes/push.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { manualAlertRoutes } from './routes/manual-alerts.ts';
import { vesselRoutes } from './routes/vessels.ts';
import { stormRoutes } from './routes/storms.ts';
import { modbusRoutes } from './routes/modbus.ts';
import { alertQualityRoutes } from './routes/alert-quality.ts';
import { fireDangerRoutes } from './routes/fire-danger.ts';
import { sosRoutes } from './routes/sos.ts';
import { staRoutes } from './sta/routes.ts';
import { DEFAULT_CAP_OPTIONS } from '../delivery/cap.ts';
import { sessionRoutes } from './routes/session.ts';
import { userRoutes } from './routes/users.ts';
import { createLoginGuard } from '../lib/login-guard.ts';

/** Builds the HTTP API without listening, so tests can use `app.inject()` as well as a socket. */
export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: opts.log.child({ module: 'api' }) as FastifyBaseLogger, bodyLimit: 64 * 1024,
    // one line per request would drown the log; errors and audit lines are still logged
    logController: new LogController({ disableRequestLogging: true }),
  });
  await registerApi(app, opts);
  return app;
}

/**
 * Installs the API's error handling, its OpenAPI document (/docs) and every route on `app`
 * (test/openapi.test.ts adds an onRoute hook first, to hold the routes against the document).
 */
export async function registerApi(app: FastifyInstance, opts: ApiOptions): Promise<void> {
  installErrorHandler(app);
  await installOpenApi(app);
  const requireRole = bearerAuth(opts.tokens, opts.accounts);
  const deps: ApiDeps = { ...opts, clock: opts.clock ?? Date, requireRole: (access, authOpts) => withRole(requireRole(access, authOpts), access) };

  // 200 while degraded (the store is down and readings are spooled): restarting would not help
  app.get('/health', { schema: { summary: 'Liveness: ok, or degraded with the problems (still 200)' } }, async () => {
    const problems = opts.degraded?.() ?? [];
    return { status: problems.length > 0 ? 'degraded' : 'ok', uptimeS: Math.round(process.uptime()), ...(problems.length > 0 ? { problems } : {}) };
  });
  app.get('/metrics', { schema: { summary: 'Prometheus text of every service in the process' } }, async (_req, reply) => {
    reply.type(opts.metrics.contentType);
    return opts.metrics.metrics();
  });
  await app.register(async (scope) => stationRoutes(scope, deps));
  await app.register(async (scope) => alertRoutes(scope, deps));
  await app.register(async (scope) => streamRoutes(scope, deps));
  await app.register(async (scope) => deviceRoutes(scope, deps));
  const { deviceStatus } = opts;
  if (deviceStatus) await app.register(async (scope) => deviceStatusRoutes(scope, { ...deps, deviceStatus }));
  await app.register(async (scope) => capRoutes(scope, { state: opts.state, cap: opts.cap ?? DEFAULT_CAP_OPTIONS, clock: deps.clock, requireRole: deps.requireRole, ...(opts.deliveryMetrics ? { metrics: opts.deliveryMetrics } : {}) }));
  await app.register(async (scope) => webhookRoutes(scope, { state: opts.state, requireRole: deps.requireRole }));
  await app.register(async (scope) => consoleRoutes(scope, opts.console ?? {}));
  const { operator, push, publishManualAlert, vessels, declareStorm, modbus } = opts;
  if (operator) await app.register(async (scope) => operatorRoutes(scope, { ...deps, operator }));
  if (push) await app.register(async (scope) => pushRoutes(scope, { push }));
  if (publishManualAlert) await app.register(async (scope) => manualAlertRoutes(scope, { requireRole: deps.requireRole, publishManualAlert, clock: deps.clock }));
  if (vessels) await app.register(async (scope) => vesselRoutes(scope, { vessels, clock: deps.clock, auth: deps.requireRole('viewer') }));
  if (declareStorm) await app.register(async (scope) => stormRoutes(scope, { ...deps, declareStorm }));
  if (modbus) await app.register(async (scope) => modbusRoutes(scope, { ...deps, modbus }));
  const { accounts } = opts;
  if (accounts) {
    const loginGuard = opts.loginGuard ?? createLoginGuard({ ...defaultLoginLimits(5), surface: 'http', metrics: opts.metrics, log: opts.log });
    await app.register(async (scope) => sessionRoutes(scope, { ...deps, accounts, loginGuard, secureCookie: opts.secureCookie ?? 'auto' }));
    await app.register(async (scope) => userRoutes(scope, { ...deps, accounts }));
  }
  const { rules } = opts;
  if (rules) await app.register(async (scope) => alertQualityRoutes(scope, { ...deps, rules }));
  await app.register(async (scope) => fireDangerRoutes(scope, deps));
  if (deps.sos) { const sos = deps.sos; await app.register(async (scope) => sosRoutes(scope, { requireRole: deps.requireRole, sos, ...(deps.sosLimits ? { limits: deps.sosLimits } : {}) })); }
  // OGC SensorThings API 1.1 (read-only open data, api/sta/README.md)
  await app.register(async (scope) => staRoutes(scope, { stations: opts.stations, store: opts.store, clock: deps.clock, ...(opts.staMqtt ? { mqtt: opts.staMqtt } : {}) }));
}

/** Console sign-in limits: `maxFailures` per name (4× per address) in 15 min lock out for 15 min. */
export function defaultLoginLimits(maxFailures: number) {
  return {
    perUsername: { points: maxFailures, durationS: 900, blockS: 900 },
    perAddress: { points: maxFailures * 4, durationS: 900, blockS: 900 },
  };
}
