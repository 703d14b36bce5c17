import type { DeliveryMetrics } from '../../delivery/metrics.ts';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import { isOperatorsOnly } from '../../contract/topics.ts';
import type { StateStore } from '../../store/types.ts';
import { ATOM_CONTENT_TYPE, CAP_CONTENT_TYPE, capFeed, toCap, type CapOptions } from '../../delivery/cap.ts';
import { seesOperatorAlerts, type Access } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { zodRoutes } from '../openapi.ts';

export interface CapRouteDeps {
  /** counts each CAP message fetched, with the time since the event was sent */
  metrics?: Pick<DeliveryMetrics, 'delivered'>;
  state: Pick<StateStore, 'getAlert' | 'alertHistory' | 'listAlerts'>;
  cap: CapOptions;
  clock?: { now(): number };
  /** identifies a token holder (`requireRole('anyone')`): alerts for operators only are theirs */
  requireRole(access: Access): preHandlerAsyncHookHandler;
}

const capQuery = z.object({ seq: z.coerce.number().int().positive().optional() });

/**
 * Public CAP 1.2 endpoints (no token: alerts are public by nature):
 * `GET /cap/{id}.xml` the alert's latest message (`?seq=n` an earlier one, as its Update references
 * name them), `GET /cap/feed.atom` the alerts in force. An alert for operators only is left out
 * of the feed and is a 404 without a token; with a viewer (or higher) token its message is served
 * with scope Restricted (delivery/cap.ts), marked private so no shared cache keeps it.
 */
export async function capRoutes(app: FastifyInstance, deps: CapRouteDeps) {
  zodRoutes(app); // the routes below validate and document with their zod schemas (api/openapi.ts)
  const clock = deps.clock ?? Date;
  app.get('/cap/feed.atom', { schema: { summary: 'Atom feed of the CAP 1.2 messages of the alerts in force', tags: ['alerts'] } }, async (_req, reply) => {
    const alerts = await deps.state.listAlerts({ status: ['active', 'acknowledged'] });
    return reply.type(ATOM_CONTENT_TYPE).send(capFeed(alerts, deps.cap, clock.now()));
  });

  app.get<{ Params: { file: string } }>('/cap/:file', {
    preHandler: deps.requireRole('anyone'),
    schema: { summary: 'An alert as CAP 1.2 XML: /cap/{id}.xml (seq: an earlier event)', tags: ['alerts'], params: z.object({ file: z.string().describe('{alert id}.xml') }), querystring: capQuery },
  }, async (req, reply) => {
    const m = /^(.+)\.xml$/.exec(req.params.file);
    if (!m) throw new ApiError(404, ErrorCode.NOT_FOUND, `no CAP document "${req.params.file}"`);
    const { seq } = req.query as z.output<typeof capQuery>; // parsed by the schema (api/openapi.ts)
    const id = m[1]!;
    const alert = await deps.state.getAlert(id);
    const restricted = alert !== undefined && isOperatorsOnly(alert);
    if (!alert || (restricted && !seesOperatorAlerts(req))) throw new ApiError(404, ErrorCode.NOT_FOUND, `no alert "${id}"`);
    const history = (await deps.state.alertHistory(id)).map((h) => h.event);
    const event = seq === undefined ? alert : history.find((e) => e.eventSeq === seq);
    if (!event) throw new ApiError(404, ErrorCode.NOT_FOUND, `alert "${id}" has no event ${seq}`);
    deps.metrics?.delivered('cap', event);
    // the answer depends on the token: shared caches must key on it, or keep a restricted one not at all
    return reply.type(CAP_CONTENT_TYPE).header('cache-control', restricted ? 'private, no-store' : 'no-cache').header('vary', 'authorization').send(toCap(event, history, deps.cap));
  });
}
