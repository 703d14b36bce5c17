import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ACCOUNT_ROLES, CHANNELS, type Accounts } from '../../store/accounts.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { ErrorCode } from '../../contract/errors.ts';
import { FLOWS_SCHEME, securityFor, zodRoutes } from '../openapi.ts';
import { sha256Hex } from '../auth.ts';
import { asApiError } from './session.ts';

/**
 * People's accounts (admin): what `huewatch user …` calls while the platform runs (platform/cli.ts),
 * and who of them wants an alert by a channel (the Node-RED e-mail/SMS flow asks). A password or a
 * token is taken once and never shown again: only hashes are kept (store/accounts.ts).
 */
const nameParams = z.object({ name: z.string().describe('account name') });
const addBody = z.object({ name: z.string(), displayName: z.string().max(100).optional(), role: z.enum(ACCOUNT_ROLES), password: z.string() });

export async function userRoutes(fastify: FastifyInstance, deps: ApiDeps & { accounts: Accounts }) {
  const app = zodRoutes(fastify);
  const admin = deps.requireRole('admin');
  const { accounts } = deps;

  app.get('/api/v1/users', { preHandler: admin, schema: { summary: 'The accounts, without their password hashes or tokens (admin)', tags: ['users'] } }, async () => ({ users: await accounts.list() }));

  app.post('/api/v1/users', { preHandler: admin, schema: { summary: 'Create an account; its first bearer token is in the answer, shown once (admin)', tags: ['users'], body: addBody } }, async (req, reply) => {
    const r = await asApiError(() => accounts.add(req.body, req.principal!.name));
    return reply.code(201).send({ user: r.account, token: r.token });
  });

  app.post('/api/v1/users/:name/disable', { preHandler: admin, schema: { summary: 'Disable an account: its password, tokens and sessions are refused (admin)', tags: ['users'], params: nameParams } }, async (req) =>
    asApiError(() => accounts.disable(req.params.name, req.principal!.name)),
  );

  app.post('/api/v1/users/:name/enable', { preHandler: admin, schema: { summary: 'Enable a disabled account again (admin)', tags: ['users'], params: nameParams } }, async (req) =>
    asApiError(() => accounts.enable(req.params.name, req.principal!.name)),
  );

  app.put('/api/v1/users/:name/password', { preHandler: admin, schema: { summary: 'Set an account\'s password; its console sessions end (admin)', tags: ['users'], params: nameParams, body: z.object({ password: z.string() }) } }, async (req, reply) => {
    await asApiError(() => accounts.setPassword(req.params.name, req.body.password, req.principal!.name));
    return reply.code(204).send();
  });

  app.post('/api/v1/users/:name/tokens', {
    preHandler: admin,
    schema: { summary: 'Issue a bearer token for an account\'s scripts, shown once; revokeOthers refuses its earlier ones (admin)', tags: ['users'], params: nameParams, body: z.object({ revokeOthers: z.boolean().optional() }).optional() },
  }, async (req, reply) => {
    const token = await asApiError(() => accounts.newToken(req.params.name, req.principal!.name, { revokeOthers: req.body?.revokeOthers === true }));
    return reply.code(201).send({ token });
  });

  /**
   * The Node-RED flows' own token (NODERED_API_TOKEN) is accepted here and nowhere else: the flows
   * need these addresses to send, and an admin token in Node-RED would also let them register
   * devices and accounts.
   */
  const flowsDigests = (deps.recipientsTokens ?? []).map((h) => Buffer.from(h, 'hex'));
  const isFlows = (req: FastifyRequest) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ') || flowsDigests.length === 0) return false;
    const digest = Buffer.from(sha256Hex(h.slice(7).trim()), 'hex');
    return flowsDigests.some((d) => timingSafeEqual(d, digest));
  };

  /** who (operators and admins) wants this alert by this channel: the e-mail/SMS flow sends to them */
  app.get('/api/v1/alerts/:id/recipients', {
    // on request, as requireRole's guards run (api/openapi.ts): before validation
    onRequest: async (req, reply) => {
      if (!isFlows(req)) await admin.call(app, req, reply);
    },
    schema: {
      summary: 'The operators who want this alert by a channel, with their address for it (admin, or the Node-RED flows\' token)', tags: ['users'],
      params: z.object({ id: z.string() }), querystring: z.object({ channel: z.enum(CHANNELS) }),
      security: [...securityFor('admin'), { [FLOWS_SCHEME]: [] }],
    },
  }, async (req) => {
    const alert = await deps.state.getAlert(req.params.id);
    if (!alert) throw new ApiError(404, ErrorCode.NOT_FOUND, `no alert "${req.params.id}"`);
    const who = await accounts.recipients(req.query.channel, alert);
    return { alert: alert.id, channel: req.query.channel, recipients: who.map((a) => ({ name: a.name, displayName: a.displayName, ...(a.preferences.email ? { email: a.preferences.email } : {}), ...(a.preferences.phone ? { phone: a.preferences.phone } : {}) })) };
  });
}
