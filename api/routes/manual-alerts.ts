import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AlertEvent } from '../../contract/alert.ts';
import { buildManualAlert, manualAlertBodySchema } from '../../delivery/manual-alerts.ts';
import type { Role } from '../auth.ts';
import { zodRoutes } from '../openapi.ts';

export interface ManualAlertRouteDeps {
  requireRole(role: Role): preHandlerAsyncHookHandler;
  publishManualAlert(event: AlertEvent): Promise<void>;
  /** the operator's name for the audit trail; default: the token name `requireRole` put on the request */
  identify?(req: FastifyRequest): string | undefined;
  clock?: { now(): number };
}

/** `POST /api/v1/alerts` (operator): a manual alert, e.g. an evacuation order, on the alerts path. */
export async function manualAlertRoutes(fastify: FastifyInstance, deps: ManualAlertRouteDeps) {
  const app = zodRoutes(fastify);
  const clock = deps.clock ?? Date;
  app.post('/api/v1/alerts', {
    preHandler: deps.requireRole('operator'),
    schema: { summary: 'Send a manual alert, e.g. an evacuation order (operator)', tags: ['operator'], body: manualAlertBodySchema },
  }, async (req, reply) => {
    const body = req.body;
    const user = deps.identify?.(req) ?? req.principal?.name ?? 'operator';
    const event = buildManualAlert(body, { user, now: clock.now() });
    await deps.publishManualAlert(event);
    req.log.info({ audit: true, action: 'manual-alert', user, id: event.id, key: event.key, areas: event.area.codes }, 'manual alert sent');
    return reply.code(201).send(event);
  });
}
