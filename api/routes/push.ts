import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import { subscribeBodySchema, type WebPushDelivery } from '../../delivery/webpush.ts';
import { ApiError } from '../errors.ts';
import { zodRoutes } from '../openapi.ts';

export interface PushRouteDeps {
  push: Pick<WebPushDelivery, 'subscribe' | 'unsubscribe' | 'publicKey'>;
}

const unsubscribeBody = z.object({ endpoint: z.url() });

/**
 * Residents' browsers register for Web Push here (no token: like the MQTT-over-WebSocket feed,
 * alerts are public; a subscription only lets us send to that browser):
 * `GET /api/v1/push/vapid-public-key`, `POST /api/v1/push/subscriptions` {subscription, areas},
 * `DELETE /api/v1/push/subscriptions` {endpoint}.
 */
export async function pushRoutes(fastify: FastifyInstance, deps: PushRouteDeps) {
  const app = zodRoutes(fastify);
  app.get('/api/v1/push/vapid-public-key', { schema: { summary: 'The VAPID public key browsers subscribe with', tags: ['residents'] } }, async () => ({ publicKey: deps.push.publicKey }));

  app.post('/api/v1/push/subscriptions', { schema: { summary: 'Register a browser for Web Push alerts of some areas', tags: ['residents'], body: subscribeBodySchema } }, async (req, reply) => {
    const body = req.body;
    const id = await deps.push.subscribe(body.subscription, body.areas);
    return reply.code(201).send({ id, areas: body.areas });
  });

  app.delete('/api/v1/push/subscriptions', { schema: { summary: 'Remove a Web Push subscription', tags: ['residents'], body: unsubscribeBody } }, async (req, reply) => {
    const { endpoint } = req.body;
    if (!(await deps.push.unsubscribe(endpoint))) throw new ApiError(404, ErrorCode.NOT_FOUND, 'no such subscription');
    return reply.code(204).send();
  });
}
