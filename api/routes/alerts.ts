import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { alertStatus, ErrorCode } from '../../contract/index.ts';
import { ApiError, parseInput } from '../errors.ts';
import type { ApiDeps } from '../deps.ts';

const listQuery = z.object({
  /** comma-separated statuses, e.g. `active,acknowledged` */
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(alertStatus).min(1))
    .optional(),
});

export async function alertRoutes(app: FastifyInstance, deps: ApiDeps) {
  app.get('/api/v1/alerts', async (req) => {
    const q = parseInput(listQuery, req.query);
    return { alerts: await deps.state.listAlerts(q.status ? { status: q.status } : undefined) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/alerts/:id', async (req) => {
    const alert = await deps.state.getAlert(req.params.id);
    if (!alert) throw new ApiError(404, ErrorCode.NOT_FOUND, `no alert "${req.params.id}"`);
    const history = await deps.state.alertHistory(alert.id);
    return { ...alert, history: history.map((h) => ({ ...h.event, cause: h.cause })) };
  });
}
