import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, seesOperatorAlerts, sha256Hex } from './auth.ts';
import { installErrorHandler } from './errors.ts';

/** Who a request is, as the routes that show more to a token holder (alerts for operators only) see it. */
describe('bearer tokens', () => {
  let app: FastifyInstance;
  const requireRole = bearerAuth([
    { name: 'viewer', role: 'viewer', sha256: sha256Hex('viewer-token') },
    { name: 'operator', role: 'operator', sha256: sha256Hex('operator-token') },
  ]);
  const who = (req: Parameters<typeof seesOperatorAlerts>[0]) => ({ principal: req.principal?.name ?? null, operatorAlerts: seesOperatorAlerts(req) });

  beforeAll(async () => {
    app = Fastify();
    installErrorHandler(app);
    app.get('/anyone', { preHandler: requireRole('anyone') }, async (req) => who(req));
    app.get('/stream', { preHandler: requireRole('anyone', { queryToken: true }) }, async (req) => who(req));
    app.get('/operator', { preHandler: requireRole('operator') }, async (req) => who(req));
  });
  afterAll(async () => app?.close());

  const get = async (url: string, authorization?: string) => {
    const res = await app.inject({ url, headers: authorization ? { authorization } : {} });
    return { status: res.statusCode, body: res.json() };
  };

  it('lets a caller without a token through as anonymous where anyone may come', async () => {
    expect(await get('/anyone')).toEqual({ status: 200, body: { principal: null, operatorAlerts: false } });
    // e.g. Basic from a reverse proxy in front of the console: not a bearer token, so anonymous
    expect(await get('/anyone', 'Basic dXNlcjpwYXNz')).toEqual({ status: 200, body: { principal: null, operatorAlerts: false } });
  });

  it('identifies a token holder of any role, and refuses an unknown token instead of showing less', async () => {
    expect(await get('/anyone', 'Bearer viewer-token')).toEqual({ status: 200, body: { principal: 'viewer', operatorAlerts: true } });
    expect(await get('/anyone', 'Bearer wrong')).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await get('/anyone', 'Bearer ')).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
  });

  it('takes a token from the query only where the route allows it (an EventSource cannot send a header)', async () => {
    expect(await get('/stream?access_token=viewer-token')).toEqual({ status: 200, body: { principal: 'viewer', operatorAlerts: true } });
    expect(await get('/stream?access_token=wrong')).toMatchObject({ status: 401 });
    expect(await get('/anyone?access_token=viewer-token')).toEqual({ status: 200, body: { principal: null, operatorAlerts: false } });
    expect(await get('/operator?access_token=operator-token')).toMatchObject({ status: 401 });
  });

  it('still asks a role of the routes that need one', async () => {
    expect(await get('/operator')).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await get('/operator', 'Basic dXNlcjpwYXNz')).toMatchObject({ status: 401 });
    expect(await get('/operator', 'Bearer viewer-token')).toMatchObject({ status: 403, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await get('/operator', 'Bearer operator-token')).toEqual({ status: 200, body: { principal: 'operator', operatorAlerts: true } });
  });
});
