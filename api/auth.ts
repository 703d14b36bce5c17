import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../contract/errors.ts';
import type { Accounts } from '../store/accounts.ts';
import { ApiError } from './errors.ts';

/** HTTP roles of DESIGN.md "Who may do what"; each includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/**
 * What a route asks of its caller: a role, or `anyone` (open to everyone, showing more to a token
 * holder: e.g. alerts for operators only, contract/topics.ts OPERATORS_AREA).
 */
export type Access = Role | 'anyone';

export interface AuthOptions {
  /**
   * Also take the token from `?access_token=` (RFC 6750 §2.3), for a browser's EventSource, which
   * cannot send an Authorization header. Only where a header is impossible: URLs end up in logs.
   */
  queryToken?: boolean;
}

export interface ApiToken {
  name: string;
  role: Role;
  /** sha256 hex of the bearer token: the token itself is not kept */
  sha256: string;
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Who made a request: a role token (named after its role), a person's account (its name, by its
 * bearer token or its console session), as `name` everywhere an action is recorded.
 */
export interface Principal {
  name: string;
  role: Role;
  kind: 'role-token' | 'account-token' | 'session';
  displayName?: string;
  /** a console session's cookie id (DELETE /api/v1/session ends it) */
  sessionId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** who made the request, once a `requireRole` preHandler has let it through */
    principal?: Principal;
  }
}

/** the console's session cookie (api/routes/session.ts sets it) */
export const SESSION_COOKIE = 'huewatch_session';
/** the header a cookie-authenticated request that changes something must carry: the session's CSRF token */
export const CSRF_HEADER = 'x-huewatch-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The value of one cookie of the request (RFC 6265 §5.4: `name=value; name2=value2`). */
export function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * CSRF defence of a cookie-authenticated request that changes something (OWASP CSRF cheat sheet:
 * custom request header + Origin check): a cross-site form cannot set a custom header, and a
 * cross-site fetch that sets one is preflighted and refused (no CORS here). The Origin, when the
 * browser sends one, must be this host.
 */
function csrfProblem(req: FastifyRequest, csrf: string): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let same = false;
    try {
      const u = new URL(origin);
      // as the browser wrote it (a default port left out) against this request's Host
      same = u.host === new URL(`${u.protocol}//${req.headers.host ?? ''}`).host;
    } catch {
      same = false;
    }
    if (!same) return `Origin ${origin} is not this site`;
  }
  const given = req.headers[CSRF_HEADER];
  if (typeof given !== 'string' || !sameText(given, csrf)) return `a signed-in console request that changes something needs the ${CSRF_HEADER} header of its session`;
  return undefined;
}

/** The bearer token of a request, from its Authorization header (or, when allowed, its query). */
function tokenOf(req: FastifyRequest, opts: AuthOptions): string | undefined {
  const h = req.headers.authorization;
  // another scheme (e.g. Basic from a reverse proxy in front of the console) is not ours: no token
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  if (!opts.queryToken) return undefined;
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' ? q : undefined;
}

/**
 * Builds `requireRole(access)` preHandlers over a fixed token list (bearer tokens, RFC 6750). A
 * token that is given but unknown is refused (401) even where anyone may come: quietly treating
 * it as anonymous would hide from an operator the alerts they logged in to see.
 */
export function bearerAuth(tokens: readonly ApiToken[], accounts?: Pick<Accounts, 'byToken' | 'session'>) {
  async function principalOf(token: string): Promise<Principal | undefined> {
    const digest = Buffer.from(sha256Hex(token), 'hex');
    const t = tokens.find((t) => timingSafeEqual(Buffer.from(t.sha256, 'hex'), digest));
    if (t) return { name: t.name, role: t.role, kind: 'role-token' };
    const a = await accounts?.byToken(token);
    return a ? { name: a.name, role: a.role, kind: 'account-token', displayName: a.displayName } : undefined;
  }
  /** the signed-in console session of the request's cookie, CSRF-checked when the request changes something */
  async function sessionOf(req: FastifyRequest, access: Access): Promise<Principal | undefined> {
    const id = accounts ? cookieOf(req, SESSION_COOKIE) : undefined;
    if (!id) return undefined;
    const s = await accounts!.session(id);
    if (!s) {
      if (access === 'anyone') return undefined; // a stale cookie on a public page: anonymous
      throw new ApiError(401, ErrorCode.NOT_AUTHORIZED, 'the session has ended: sign in again');
    }
    if (!SAFE_METHODS.has(req.method)) {
      const problem = csrfProblem(req, s.session.csrf);
      if (problem) {
        if (access === 'anyone') return undefined;
        throw new ApiError(403, ErrorCode.NOT_AUTHORIZED, problem);
      }
    }
    return { name: s.account.name, role: s.account.role, kind: 'session', displayName: s.account.displayName, sessionId: id };
  }
  return function requireRole(access: Access, opts: AuthOptions = {}) {
    return async (req: FastifyRequest, _reply: FastifyReply) => {
      const token = tokenOf(req, opts);
      // a bearer token wins over a cookie: scripts are never subject to the console's CSRF check
      const p = token ? await principalOf(token) : await sessionOf(req, access);
      if (token === undefined && p === undefined && access === 'anyone') return;
      if (!p) throw new ApiError(401, ErrorCode.NOT_AUTHORIZED, token ? 'unknown bearer token' : 'a bearer token or a signed-in session is required');
      if (access !== 'anyone' && ROLES.indexOf(p.role) < ROLES.indexOf(access)) throw new ApiError(403, ErrorCode.NOT_AUTHORIZED, `role ${access} required`);
      req.principal = p;
    };
  };
}

/**
 * May this request see alerts for operators only? Any token holder may (viewer and up: DESIGN.md
 * "Who may do what", viewers read); anonymous callers (residents) may not. Needs a
 * `requireRole('anyone')` (or stricter) preHandler before it.
 */
export function seesOperatorAlerts(req: FastifyRequest): boolean {
  return req.principal !== undefined;
}
