import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import { OperatorActionError, type OperatorActions } from '../../rules/operator-actions.ts';
import { ApiError } from '../errors.ts';
import { instant } from '../query.ts';
import type { ApiDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

const alertParams = z.object({ id: z.string().describe('alert id') });
const cancelBody = z.object({ reason: z.string().trim().min(3, 'say why the alert is cancelled').max(500) });
const releaseBody = z.object({
  /** m³/s */
  flowMin: z.number().nonnegative(),
  flowMax: z.number().nonnegative(),
  start: z.union([z.number().int(), instant]),
  end: z.union([z.number().int(), instant]).optional(),
});

/**
 * What operators do (DESIGN.md "Who may do what"): acknowledge and cancel alerts, declare a
 * reservoir release order (Decision 1606/QĐ-TTg) that warns the communes downstream. The rules
 * engine persists, publishes and audits each action; this only checks the role and the input.
 */
export async function operatorRoutes(fastify: FastifyInstance, deps: ApiDeps & { operator: OperatorActions }) {
  const app = zodRoutes(fastify);
  const operator = deps.requireRole('operator');
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof OperatorActionError) throw new ApiError(err.code === ErrorCode.NOT_FOUND ? 404 : 400, err.code, err.message);
      throw err;
    }
  };

  app.post('/api/v1/alerts/:id/ack', { preHandler: operator, schema: { summary: 'Acknowledge an alert (operator)', tags: ['operator'], params: alertParams } }, async (req) =>
    run(() => deps.operator.acknowledge(req.params.id, req.principal!.name)),
  );

  app.post('/api/v1/alerts/:id/cancel', { preHandler: operator, schema: { summary: 'Cancel an alert, saying why (operator)', tags: ['operator'], params: alertParams, body: cancelBody } }, async (req) => {
    const body = req.body;
    return run(() => deps.operator.cancel(req.params.id, req.principal!.name, body.reason));
  });

  app.post('/api/v1/reservoirs/:id/release-orders', {
    preHandler: operator,
    schema: { summary: 'Declare a reservoir release order: the communes downstream are warned (operator)', tags: ['operator'], params: z.object({ id: z.string().describe('reservoir station id') }), body: releaseBody },
  }, async (req, reply) => {
    const body = req.body;
    const event = await run(() => deps.operator.declareRelease({ reservoir: req.params.id, ...body, user: req.principal!.name }));
    return reply.code(201).send(event);
  });
}
