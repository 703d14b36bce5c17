import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { installErrorHandler } from '../api/errors.ts';

export interface OpsServer {
  /** base URL, e.g. http://127.0.0.1:8081 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The ops listener of a process that does not run the API (OPS_PORT): `GET /health` for container
 * healthchecks and `GET /metrics` (this process's registry) for Prometheus; `routes` adds more
 * (the rules process's internal RPC). Started once the process's services are up.
 */
export async function startOpsServer(opts: {
  host: string;
  port: number;
  log: Logger;
  metrics: Registry;
  services: readonly string[];
  /** what is down right now (e.g. an MQTT connection); /health answers 503 while any is */
  problems?: () => string[];
  /** what degrades the process without stopping it (the store down, readings spooled): 200, status "degraded" */
  degraded?: () => unknown[];
  routes?: (app: FastifyInstance) => void | Promise<void>;
}): Promise<OpsServer> {
  const app = Fastify({
    loggerInstance: opts.log.child({ module: 'ops' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
  installErrorHandler(app);
  app.get('/health', async (_req, reply) => {
    const problems = opts.problems?.() ?? [];
    if (problems.length > 0) return reply.code(503).send({ status: 'unavailable', services: opts.services, problems });
    const degraded = opts.degraded?.() ?? [];
    if (degraded.length > 0) return { status: 'degraded', services: opts.services, uptimeS: Math.round(process.uptime()), problems: degraded };
    return { status: 'ok', services: opts.services, uptimeS: Math.round(process.uptime()) };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(opts.metrics.contentType);
    return opts.metrics.metrics();
  });
  await opts.routes?.(app);
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return { url: `http://${host}:${port}`, port, close: () => app.close() };
}
