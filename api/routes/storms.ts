import type { FastifyInstance } from 'fastify';
import { stormArea, VESSEL_RULE_STATE_NAMESPACE, type StormArea, type StormState } from '../../rules/vessels/storm.ts';
import type { ApiDeps, DeclareStorm } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

/**
 * `POST /api/v1/storm-areas` (operator): a storm's danger area (polygon or circle, with a validity
 * period). Vessels inside get an alert now, and as they move in or out; the answer lists them.
 * `GET /api/v1/storm-areas` (viewer): the areas in force and the vessels inside, for the map.
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
  app.get('/api/v1/storm-areas', {
    preHandler: deps.requireRole('viewer'),
    schema: { summary: 'The storm danger areas in force, with the vessels inside (viewer)', tags: ['vessels'] },
  }, async () => {
    const now = deps.clock.now();
    const saved = await deps.state.listJson<{ area: StormArea; state: StormState }>(VESSEL_RULE_STATE_NAMESPACE);
    const areas = saved
      .filter((e) => e.key.startsWith('storm/') && e.value.area.validTo > now)
      .map(({ value: { area, state } }) => ({ ...area, validFrom: new Date(area.validFrom).toISOString(), validTo: new Date(area.validTo).toISOString(), vessels: state.inside }))
      .sort((a, b) => a.id.localeCompare(b.id));
    return { count: areas.length, areas };
  });
}
