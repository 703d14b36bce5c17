import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import type { LoginGuard } from '../../lib/login-guard.ts';
import { AccountError, preferencesSchema, wants, type Accounts } from '../../store/accounts.ts';
import type { AlertEvent } from '../../contract/alert.ts';
import { pushSubscriptionSchema } from '../../delivery/webpush.ts';
import { SESSION_COOKIE } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { zodRoutes } from '../openapi.ts';

/**
 * The console's sign-in (POST/GET/DELETE /api/v1/session) and what a signed-in person reads and
 * sets about themself (GET /api/v1/me, GET/PUT /api/v1/me/preferences). A session is a random id
 * in an HttpOnly, SameSite=Strict cookie, kept server-side with its expiry (store/accounts.ts);
 * requests it authenticates that change something carry its CSRF token (api/auth.ts).
 */
export interface SessionRouteDeps {
  accounts: Accounts;
  loginGuard: LoginGuard;
  /** the cookie's Secure attribute: always, never, or `auto` (the request came over https) */
  secureCookie: boolean | 'auto';
}

const loginBody = z.object({ name: z.string().min(1).max(64), password: z.string().min(1).max(256) });
const sessionView = z.object({ name: z.string(), displayName: z.string(), role: z.enum(['viewer', 'operator', 'admin']), kind: z.string(), csrf: z.string().optional(), expiresAt: z.string().optional() });

export const STATUS_OF_ACCOUNT_ERROR: Partial<Record<string, number>> = { [ErrorCode.BAD_REQUEST]: 400, [ErrorCode.NOT_FOUND]: 404, [ErrorCode.CONFLICT]: 409 };
export async function asApiError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const status = err instanceof AccountError ? STATUS_OF_ACCOUNT_ERROR[err.code] : undefined;
    if (status) throw new ApiError(status, (err as AccountError).code, (err as Error).message);
    throw err;
  }
}

function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

function setCookie(reply: FastifyReply, value: string, maxAgeS: number, secure: boolean): void {
  const attrs = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeS}`, ...(secure ? ['Secure'] : [])];
  void reply.header('set-cookie', attrs.join('; '));
}

export async function sessionRoutes(fastify: FastifyInstance, deps: ApiDeps & SessionRouteDeps) {
  const app = zodRoutes(fastify);
  const { accounts, loginGuard } = deps;
  const signedIn = deps.requireRole('viewer');
  const secure = (req: FastifyRequest) => (deps.secureCookie === 'auto' ? isHttps(req) : deps.secureCookie);

  app.post('/api/v1/session', {
    schema: { summary: 'Sign in to the console with a name and password: sets the session cookie (rate-limited, locks out after repeated failures)', tags: ['session'], body: loginBody },
  }, async (req, reply) => {
    const { name, password } = req.body;
    const attempt = { address: req.ip, username: name.toLowerCase() };
    const allowed = await loginGuard.check(attempt);
    if (!allowed.allowed) {
      await accounts.record('session.refused', attempt.username, attempt.username, { address: req.ip, reason: allowed.reason, retryAfterMs: allowed.retryAfterMs });
      void reply.header('retry-after', String(Math.max(1, Math.ceil(allowed.retryAfterMs / 1000))));
      throw new ApiError(429, ErrorCode.NOT_AUTHORIZED, `too many failed sign-ins ${allowed.reason === 'address' ? 'from this address' : 'for this name'}: try again in ${Math.ceil(allowed.retryAfterMs / 1000)} s`);
    }
    const account = await accounts.verify(attempt.username, password);
    if (!account) {
      await loginGuard.failed(attempt);
      await accounts.record('session.failed', attempt.username, attempt.username, { address: req.ip });
      req.log.warn({ audit: true, action: 'session.failed', user: attempt.username, address: req.ip }, 'console sign-in failed');
      throw new ApiError(401, ErrorCode.NOT_AUTHORIZED, 'wrong name or password (or the account is disabled)');
    }
    await loginGuard.succeeded(attempt);
    const { id, session } = await accounts.openSession(account.name);
    await accounts.record('session.login', account.name, account.name, { address: req.ip });
    setCookie(reply, id, Math.round((session.expiresAt - session.createdAt) / 1000), secure(req));
    return reply.code(201).send({ name: account.name, displayName: account.displayName, role: account.role, kind: 'session', csrf: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() });
  });

  app.get('/api/v1/session', {
    preHandler: signedIn,
    schema: { summary: 'Who is signed in, with the CSRF token of the session (viewer)', tags: ['session'], response: { 200: sessionView } },
  }, async (req) => {
    const p = req.principal!;
    const s = p.sessionId ? await accounts.session(p.sessionId) : undefined;
    return { name: p.name, displayName: p.displayName ?? p.name, role: p.role, kind: p.kind, ...(s ? { csrf: s.session.csrf, expiresAt: new Date(s.session.expiresAt).toISOString() } : {}) };
  });

  app.delete('/api/v1/session', {
    preHandler: signedIn,
    schema: { summary: 'Sign out: the session ends and its cookie is cleared (viewer)', tags: ['session'] },
  }, async (req, reply) => {
    const p = req.principal!;
    if (p.sessionId) {
      await accounts.closeSession(p.sessionId);
      await accounts.record('session.logout', p.name, p.name);
    }
    setCookie(reply, '', 0, secure(req));
    return reply.code(204).send();
  });

  /** the account of the request, or a refusal for a role token (it has no person behind it) */
  const own = (req: FastifyRequest) => {
    const p = req.principal!;
    if (p.kind === 'role-token') throw new ApiError(400, ErrorCode.BAD_REQUEST, `the ${p.name} role token is no person's: sign in, or use an account's token, to have preferences`);
    return p.name;
  };

  app.get('/api/v1/me/preferences', {
    preHandler: signedIn,
    schema: { summary: 'Which hazards and areas reach me by which channel (console, Web Push, e-mail, SMS) (viewer)', tags: ['session'] },
  }, async (req) => asApiError(() => accounts.preferences(own(req))));

  const { operatorPush } = deps;
  if (operatorPush) {
    const operator = deps.requireRole('operator');
    app.put('/api/v1/me/push-subscription', {
      preHandler: operator,
      schema: { summary: 'Have this browser\'s Web Push subscription receive the alerts my preferences choose for webpush (operator)', tags: ['session'], body: z.object({ subscription: pushSubscriptionSchema }) },
    }, async (req, reply) => {
      const id = await operatorPush.subscribe(own(req), req.body.subscription);
      return reply.code(201).send({ id, publicKey: operatorPush.publicKey });
    });
    app.delete('/api/v1/me/push-subscription', {
      preHandler: operator,
      schema: { summary: 'Stop Web Push to this browser (operator)', tags: ['session'], body: z.object({ endpoint: z.url() }) },
    }, async (req, reply) => {
      const had = await operatorPush.unsubscribe(own(req), req.body.endpoint);
      if (!had) throw new ApiError(404, ErrorCode.NOT_FOUND, 'no push subscription of yours with this endpoint');
      return reply.code(204).send();
    });
  }

  app.put('/api/v1/me/preferences', {
    preHandler: signedIn,
    schema: { summary: 'Set which hazards and areas reach me by which channel (viewer)', tags: ['session'], body: preferencesSchema },
  }, async (req) => asApiError(() => accounts.setPreferences(own(req), req.body, req.principal!.name)));
}

/**
 * `?for=me` of the alert list and stream (the console asks so): only the alerts the signed-in
 * person wants on the console channel (their preferences). Everyone else, and a role token, sees all.
 */
export async function consoleFilterOf(req: FastifyRequest, accounts: Accounts | undefined, forMe: boolean): Promise<(a: AlertEvent) => boolean> {
  const p = req.principal;
  if (!forMe || !accounts || !p || p.kind === 'role-token') return () => true;
  const prefs = await accounts.preferences(p.name).catch(() => undefined);
  return prefs ? (a) => wants(prefs, 'console', a) : () => true;
}
