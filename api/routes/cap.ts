import type { DeliveryMetrics } from '../../delivery/metrics.ts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import type { StateStore } from '../../store/types.ts';
import { ATOM_CONTENT_TYPE, CAP_CONTENT_TYPE, capFeed, toCap, type CapOptions } from '../../delivery/cap.ts';
import { ApiError, parseInput } from '../errors.ts';

export interface CapRouteDeps {
  /** counts each CAP message fetched, with the time since the event was sent */
  metrics?: Pick<DeliveryMetrics, 'delivered'>;
  state: Pick<StateStore, 'getAlert' | 'alertHistory' | 'listAlerts'>;
  cap: CapOptions;
  clock?: { now(): number };
}

const capQuery = z.object({ seq: z.coerce.number().int().positive().optional() });

/**
 * Public CAP 1.2 endpoints (no token: alerts are public by nature):
 * `GET /cap/{id}.xml` the alert's latest message (`?seq=n` an earlier one, as its Update references
 * name them), `GET /cap/feed.atom` the alerts in force.
 */
export async function capRoutes(app: FastifyInstance, deps: CapRouteDeps) {
  const clock = deps.clock ?? Date;
  app.get('/cap/feed.atom', async (_req, reply) => {
    const alerts = await deps.state.listAlerts({ status: ['active', 'acknowledged'] });
    return reply.type(ATOM_CONTENT_TYPE).send(capFeed(alerts, deps.cap, clock.now()));
  });

  app.get<{ Params: { file: string } }>('/cap/:file', async (req, reply) => {
    const m = /^(.+)\.xml$/.exec(req.params.file);
    if (!m) throw new ApiError(404, ErrorCode.NOT_FOUND, `no CAP document "${req.params.file}"`);
    const { seq } = parseInput(capQuery, req.query);
    const id = m[1]!;
    const alert = await deps.state.getAlert(id);
    if (!alert) throw new ApiError(404, ErrorCode.NOT_FOUND, `no alert "${id}"`);
    const history = (await deps.state.alertHistory(id)).map((h) => h.event);
    const event = seq === undefined ? alert : history.find((e) => e.eventSeq === seq);
    if (!event) throw new ApiError(404, ErrorCode.NOT_FOUND, `alert "${id}" has no event ${seq}`);
    deps.metrics?.delivered('cap', event);
    return reply.type(CAP_CONTENT_TYPE).header('cache-control', 'no-cache').send(toCap(event, history, deps.cap));
  });
}
