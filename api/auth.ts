import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../contract/errors.ts';
import { ApiError } from './errors.ts';

/** HTTP roles of DESIGN.md "Who may do what"; each includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

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

/** Builds `requireRole(role)` preHandlers over a fixed token list (bearer tokens, RFC 6750). */
export function bearerAuth(tokens: readonly ApiToken[]) {
  function principalOf(req: FastifyRequest): ApiToken | undefined {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) return undefined;
    const digest = Buffer.from(sha256Hex(h.slice(7).trim()), 'hex');
    return tokens.find((t) => timingSafeEqual(Buffer.from(t.sha256, 'hex'), digest));
  }
  return function requireRole(role: Role) {
    return async (req: FastifyRequest, _reply: FastifyReply) => {
      const p = principalOf(req);
      if (!p) throw new ApiError(401, ErrorCode.NOT_AUTHORIZED, 'a bearer token is required');
      if (ROLES.indexOf(p.role) < ROLES.indexOf(role)) throw new ApiError(403, ErrorCode.NOT_AUTHORIZED, `role ${role} required`);
      req.principal = p;
    };
  };
}
