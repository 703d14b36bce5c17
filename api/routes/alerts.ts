import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { alertStatus, ErrorCode, isOperatorsOnly } from '../../contract/index.ts';
import { seesOperatorAlerts } from '../auth.ts';
import { ApiError } from '../errors.ts';
import type { ApiDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';
import { consoleFilterOf } from './session.ts';

const listQuery = z.object({
  /** comma-separated statuses, e.g. `active,acknowledged` */
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(alertStatus).min(1))
    .optional(),
  for: z.literal('me').optional().describe('only the alerts the signed-in person wants on the console (GET /api/v1/me/preferences)'),
});

/**
 * Alerts for everyone; alerts for operators only (contract/topics.ts OPERATORS_AREA) to token
 * holders. To an anonymous caller such an alert does not exist (404, as for an unknown id).
 */
export async function alertRoutes(app: FastifyInstance, deps: ApiDeps) {
  zodRoutes(app); // the routes below validate and document with their zod schemas (api/openapi.ts)
  const anyone = deps.requireRole('anyone');
  app.get('/api/v1/alerts', { preHandler: anyone, schema: { summary: 'Alerts, newest first (status=active,acknowledged)', tags: ['alerts'], querystring: listQuery } }, async (req) => {
    const q = req.query as z.output<typeof listQuery>; // parsed by the schema (api/openapi.ts)
    const alerts = await deps.state.listAlerts(q.status ? { status: q.status } : undefined);
    const mine = await consoleFilterOf(req, deps.accounts, q.for === 'me');
    return { alerts: (seesOperatorAlerts(req) ? alerts : alerts.filter((a) => !isOperatorsOnly(a))).filter(mine) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/alerts/:id', { preHandler: anyone, schema: { summary: 'An alert with its history: each event and its cause', tags: ['alerts'], params: z.object({ id: z.string() }) } }, async (req) => {
    const alert = await deps.state.getAlert(req.params.id);
    if (!alert || (isOperatorsOnly(alert) && !seesOperatorAlerts(req))) throw new ApiError(404, ErrorCode.NOT_FOUND, `no alert "${req.params.id}"`);
    const history = await deps.state.alertHistory(alert.id);
    return { ...alert, history: history.map((h) => ({ ...h.event, cause: h.cause })) };
  });
}
