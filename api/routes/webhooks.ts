import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Role } from '../auth.ts';
import type { StateStore } from '../../store/types.ts';
import { listDeadLetters } from '../../delivery/webhooks.ts';

export interface WebhookRouteDeps {
  state: Pick<StateStore, 'listJson'>;
  requireRole(role: Role): preHandlerAsyncHookHandler;
}

/** `GET /api/v1/webhooks/dead-letters` (admin): deliveries given up on, oldest first. */
export async function webhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps) {
  app.get('/api/v1/webhooks/dead-letters', { preHandler: deps.requireRole('admin'), schema: { summary: 'Webhook deliveries given up on, oldest first (admin)', tags: ['delivery'] } }, async () => ({
    deadLetters: await listDeadLetters(deps.state),
  }));
}
