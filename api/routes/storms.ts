import type { FastifyInstance } from 'fastify';
import { stormArea } from '../../rules/vessels/storm.ts';
import { parseInput } from '../errors.ts';
import type { ApiDeps, DeclareStorm } from '../deps.ts';

/**
 * `POST /api/v1/storm-areas` (operator): a storm's danger area (polygon or circle, with a validity
 * period). Vessels inside get an alert now, and as they move in or out; the answer lists them.
 */
export async function stormRoutes(app: FastifyInstance, deps: ApiDeps & { declareStorm: DeclareStorm }) {
  app.post('/api/v1/storm-areas', { preHandler: deps.requireRole('operator') }, async (req, reply) => {
    const input = parseInput(stormArea, req.body);
    const result = await deps.declareStorm(input, req.principal!.name);
    return reply.code(201).send({ area: result.area, vessels: result.vessels });
  });
}
