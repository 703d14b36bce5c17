import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../contract/errors.ts';
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

declare module 'fastify' {
  interface FastifyRequest {
    /** who made the request, once a `requireRole` preHandler has let it through */
    principal?: ApiToken;
  }
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
export function bearerAuth(tokens: readonly ApiToken[]) {
  function principalOf(token: string): ApiToken | undefined {
    const digest = Buffer.from(sha256Hex(token), 'hex');
    return tokens.find((t) => timingSafeEqual(Buffer.from(t.sha256, 'hex'), digest));
  }
  return function requireRole(access: Access, opts: AuthOptions = {}) {
    return async (req: FastifyRequest, _reply: FastifyReply) => {
      const token = tokenOf(req, opts);
      if (token === undefined && access === 'anyone') return;
      const p = token ? principalOf(token) : undefined;
      if (!p) throw new ApiError(401, ErrorCode.NOT_AUTHORIZED, token ? 'unknown bearer token' : 'a bearer token is required');
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
