import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../contract/errors.ts';

/** An error the API answers with a stable code (STYLE.md: clients and tests match codes, not messages). */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Validates request input with a zod schema; the first problem names its field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') + ': ' : '';
  throw new ApiError(400, ErrorCode.BAD_REQUEST, where + (issue?.message ?? 'invalid request'));
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ code: ErrorCode.NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ code: err.code, message: err.message });
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ code: ErrorCode.BAD_REQUEST, message: (err as Error).message });
    // 5xx hide internals: the log has them, the client gets the code.
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: ErrorCode.INTERNAL, message: 'internal error' });
  });
}
