import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isOperatorsOnly } from '../../contract/topics.ts';
import type { FeedItem } from '../alert-feed.ts';
import { ROLES, seesOperatorAlerts } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';
import { consoleFilterOf } from './session.ts';

/** Bounds (each chosen so one slow or greedy client cannot hurt the others). */
export const STREAM_LIMITS = {
  /** concurrent SSE clients; past it, 503 and the client retries (EventSource does) */
  maxClients: 1000,
  /** bytes queued to one client that is not reading; past it the client is dropped and must resume */
  maxBufferedBytes: 1 << 20,
  /** comment line so proxies and browsers keep idle connections open */
  heartbeatMs: 15_000,
} as const;

/**
 * Server-Sent Events (WHATWG HTML §9.2): `event: alert`, `id:` = feed stream id, so a client that
 * reconnects with `Last-Event-ID` gets what it missed; if that is no longer kept it gets a
 * `reset` event and must reload the list. Alerts for operators only go to token holders; a
 * browser's EventSource, which cannot send a header, passes its token as `?access_token=`.
 */
const streamQuery = z.object({
  lastEventId: z.string().optional().describe('as the Last-Event-ID header, for clients that cannot send it'),
  access_token: z.string().optional().describe('a bearer token, for a browser EventSource that cannot send a header (RFC 6750 §2.3)'),
  for: z.literal('me').optional().describe('only the alerts the signed-in person wants on the console (GET /api/v1/me/preferences)'),
});

export async function streamRoutes(app: FastifyInstance, deps: ApiDeps) {
  zodRoutes(app); // the routes below validate and document with their zod schemas (api/openapi.ts)
  let clients = 0;
  app.get<{ Querystring: { lastEventId?: string; access_token?: string; for?: 'me' } }>('/api/v1/stream', {
    preHandler: deps.requireRole('anyone', { queryToken: true }),
    schema: { summary: 'Live alerts as Server-Sent Events (event: alert; event: sos for operators); resume with Last-Event-ID', tags: ['alerts'], querystring: streamQuery },
  }, async (req, reply) => {
    const mine = await consoleFilterOf(req, deps.accounts, req.query.for === 'me');
    if (clients >= STREAM_LIMITS.maxClients) {
      return reply.code(503).header('retry-after', '5').send({ code: 'HW_ERR_BUSY', message: 'too many stream clients' });
    }
    clients++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const operatorAlerts = seesOperatorAlerts(req);
    const send = (item: FeedItem) => {
      if ((!operatorAlerts && isOperatorsOnly(item.event)) || !mine(item.event)) return;
      res.write(`id: ${item.streamId}\nevent: alert\ndata: ${JSON.stringify(item.event)}\n\n`);
      deps.deliveryMetrics?.delivered('sse', item.event);
      if (res.writableLength > STREAM_LIMITS.maxBufferedBytes) res.destroy();
    };
    res.write(`retry: 2000\n: huewatch alert stream\n\n`);
    const lastId = Number(req.headers['last-event-id'] ?? req.query.lastEventId ?? NaN);
    if (Number.isInteger(lastId)) {
      const missed = deps.feed.since(lastId);
      if (missed) missed.forEach(send);
      else res.write(`event: reset\ndata: {}\n\n`);
    }
    const unsubscribe = deps.feed.subscribe(send);
    // residents' SOS calls carry personal data: operators only (`event: sos`, no id: reload the list on reconnect)
    const seesSos = deps.sos && req.principal && ROLES.indexOf(req.principal.role) >= ROLES.indexOf('operator');
    const unsubscribeSos = seesSos
      ? deps.sos!.subscribe((rec) => {
          res.write(`event: sos\ndata: ${JSON.stringify({ ...rec, trackSha256: undefined, units: deps.sos!.units(rec.district) })}\n\n`);
          if (res.writableLength > STREAM_LIMITS.maxBufferedBytes) res.destroy();
        })
      : undefined;
    const heartbeat = setInterval(() => res.write(`: ping\n\n`), STREAM_LIMITS.heartbeatMs);
    res.on('close', () => {
      clients--;
      clearInterval(heartbeat);
      unsubscribe();
      unsubscribeSos?.();
    });
  });
}
