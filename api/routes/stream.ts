import type { FastifyInstance } from 'fastify';
import type { FeedItem } from '../alert-feed.ts';
import type { ApiDeps } from '../deps.ts';

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
 * `reset` event and must reload the list.
 */
export async function streamRoutes(app: FastifyInstance, deps: ApiDeps) {
  let clients = 0;
  app.get<{ Querystring: { lastEventId?: string } }>('/api/v1/stream', (req, reply) => {
    if (clients >= STREAM_LIMITS.maxClients) {
      void reply.code(503).header('retry-after', '5').send({ code: 'HW_ERR_BUSY', message: 'too many stream clients' });
      return;
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
    const send = (item: FeedItem) => {
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
    const heartbeat = setInterval(() => res.write(`: ping\n\n`), STREAM_LIMITS.heartbeatMs);
    res.on('close', () => {
      clients--;
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
}
