import type { FastifyInstance } from 'fastify';
import { stormArea } from '../../rules/vessels/storm.ts';
import type { ApiDeps, DeclareStorm } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

/**
 * `POST /api/v1/storm-areas` (operator): a storm's danger area (polygon or circle, with a validity
 * period). Vessels inside get an alert now, and as they move in or out; the answer lists them.
 */
export async function stormRoutes(fastify: FastifyInstance, deps: ApiDeps & { declareStorm: DeclareStorm }) {
  const app = zodRoutes(fastify);
  app.post('/api/v1/storm-areas', {
    preHandler: deps.requireRole('operator'),
    schema: { summary: 'Declare a storm danger area: vessels inside are alerted (operator)', tags: ['vessels'], body: stormArea },
  }, async (req, reply) => {
    const input = req.body;
    const result = await deps.declareStorm(input, req.principal!.name);
    return reply.code(201).send({ area: result.area, vessels: result.vessels });
  });
}
