import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import { sosRequest } from '../../contract/sos.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { zodRoutes } from '../openapi.ts';
import { SosError, type SosDesk } from '../sos/desk.ts';
import { createSosLimits, SosRateLimited, type SosLimits } from '../sos/limits.ts';

export { SOS_LIMITS } from '../sos/limits.ts';

export interface SosRouteDeps extends Pick<ApiDeps, 'requireRole'> {
  sos: SosDesk;
  /** the process's SOS rate limits, shared with the MQTT path (api/sos/mqtt.ts); without it, the routes' own */
  limits?: SosLimits;
}

const idParams = z.object({ id: z.string().uuid() });

/**
 * Residents' SOS (issue #15.3). Anyone may send one (rate-limited per address and per app
 * install) and follow its status with the token the reply gave; operators list the calls with the
 * caller's phone and position, take, assign and close them, each step recorded with their name.
 */
export async function sosRoutes(fastify: FastifyInstance, deps: SosRouteDeps) {
  const app = zodRoutes(fastify);
  const limits = deps.limits ?? createSosLimits();
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SosError) throw new ApiError(err.status, err.status === 404 ? ErrorCode.NOT_FOUND : err.status === 409 ? ErrorCode.CONFLICT : ErrorCode.BAD_REQUEST, err.message);
      throw err;
    }
  };

  app.post('/api/v1/sos', { schema: { summary: 'Send an SOS: position, a few words and a phone number (anyone; rate-limited)', tags: ['sos'], body: sosRequest } }, async (req, reply) => {
    try {
      await limits.consume({ address: req.ip, ...(req.body.deviceId ? { install: req.body.deviceId } : {}) });
    } catch (err) {
      if (!(err instanceof SosRateLimited)) throw err;
      req.log.warn({ ip: req.ip, deviceId: req.body.deviceId }, 'SOS refused: rate limit');
      void reply.header('retry-after', String(err.retryAfterS));
      throw new ApiError(429, ErrorCode.RATE_LIMITED, err.message);
    }
    const { record, token } = await deps.sos.submit(req.body);
    return reply.code(201).send({ id: record.id, token, status: record.status, district: record.district, alerts: record.alerts, track: `/api/v1/sos/${record.id}/track` });
  });

  app.get('/api/v1/sos/:id/track', {
    schema: { summary: "The status of one's own SOS (the token its reply gave)", tags: ['sos'], params: idParams, querystring: z.object({ token: z.string().min(1) }) },
  }, async (req) => {
    const view = deps.sos.track(req.params.id, req.query.token);
    if (!view) throw new ApiError(404, ErrorCode.NOT_FOUND, 'no such SOS, or a wrong token');
    return view;
  });

  app.get('/api/v1/sos', { preHandler: deps.requireRole('operator'), schema: { summary: 'SOS calls, newest first, with the rescue units for each (operator)', tags: ['sos'] } }, async () => ({
    calls: deps.sos.list().map((c) => ({ ...c, trackSha256: undefined, units: deps.sos.units(c.district) })),
  }));

  app.post('/api/v1/sos/:id/take', { preHandler: deps.requireRole('operator'), schema: { summary: 'Take an SOS call (operator)', tags: ['sos'], params: idParams } },
    async (req) => run(() => deps.sos.take(req.params.id, req.principal!.name)));
  app.post('/api/v1/sos/:id/assign', {
    preHandler: deps.requireRole('operator'),
    schema: { summary: 'Assign an SOS call to a rescue unit (operator)', tags: ['sos'], params: idParams, body: z.object({ unit: z.string().min(1) }).strict() },
  }, async (req) => run(() => deps.sos.assign(req.params.id, req.body.unit, req.principal!.name)));
  app.post('/api/v1/sos/:id/close', {
    preHandler: deps.requireRole('operator'),
    schema: { summary: 'Close an SOS call with a note (operator)', tags: ['sos'], params: idParams, body: z.object({ note: z.string().trim().min(1).max(1000) }).strict() },
  }, async (req) => run(() => deps.sos.close(req.params.id, req.body.note, req.principal!.name)));
}
