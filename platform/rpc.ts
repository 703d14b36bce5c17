import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../contract/errors.ts';
import { sha256Hex } from '../api/auth.ts';
import { OperatorActionError } from '../rules/operator-actions.ts';
import { DeviceError } from '../lib/devices.ts';

/**
 * Calls between the platform's own processes over HTTP: `POST /internal/v1/rpc/{target}/{method}`
 * with the arguments as a JSON array, answered `{result}` or `{error: {name, code, message}}`.
 * Only the methods a target lists are callable, and only with the services' bearer token
 * (SVC_TOKEN). Errors of the classes below are thrown again on the caller's side as the same class
 * with the same code, so an API in front of a remote object answers as it would in process.
 */

export const RPC_PATH = '/internal/v1/rpc';

/** A class whose instances cross the wire as themselves. */
interface WireErrorClass {
  name: string;
  is(err: unknown): err is Error & { code: string };
  make(code: string, message: string): Error;
}
const WIRE_ERRORS: readonly WireErrorClass[] = [
  { name: 'OperatorActionError', is: (e): e is OperatorActionError => e instanceof OperatorActionError, make: (c, m) => new OperatorActionError(c as ErrorCode, m) },
  { name: 'DeviceError', is: (e): e is DeviceError => e instanceof DeviceError, make: (c, m) => new DeviceError(c as ErrorCode, m) },
];

/** A refused or failed call itself (unreachable, bad token, not allowed), or an error of a class not listed above. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: string,
    message: string,
    /** the HTTP status of the answer, absent when there was none */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RpcTarget {
  object: object;
  /** the callable methods: nothing else of `object` is */
  methods: readonly string[];
}

const wireError = z.object({ error: z.object({ name: z.string(), code: z.string(), message: z.string() }) });
const args = z.array(z.unknown()).max(32);

function statusOf(code: string): number {
  if (code === ErrorCode.NOT_FOUND) return 404;
  if (code === ErrorCode.BAD_REQUEST) return 400;
  return 500;
}

/** Does a request carry `token` as its bearer token? (compared in constant time) */
export function bearerIs(token: string): (req: FastifyRequest) => boolean {
  const digest = Buffer.from(sha256Hex(token), 'hex');
  return (req) => {
    const h = req.headers.authorization;
    return h?.startsWith('Bearer ') === true && timingSafeEqual(Buffer.from(sha256Hex(h.slice(7).trim()), 'hex'), digest);
  };
}

/** The RPC endpoint on `app` for `targets`, for callers presenting `token`. */
export function rpcRoutes(app: FastifyInstance, opts: { token: string; targets: Readonly<Record<string, RpcTarget>> }): void {
  const isService = bearerIs(opts.token);
  const refuse = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply.code(status).send({ error: { name: 'RpcError', code, message } });

  app.post<{ Params: { target: string; method: string } }>(`${RPC_PATH}/:target/:method`, async (req, reply) => {
    if (!isService(req)) {
      return refuse(reply, 401, ErrorCode.NOT_AUTHORIZED, 'the services\' bearer token (SVC_TOKEN) is required');
    }
    const { target, method } = req.params;
    const t = Object.hasOwn(opts.targets, target) ? opts.targets[target] : undefined;
    const fn = t?.methods.includes(method) ? (t.object as Record<string, unknown>)[method] : undefined;
    if (!t || typeof fn !== 'function') return refuse(reply, 404, ErrorCode.NOT_FOUND, `no method ${target}.${method}`);
    const parsed = args.safeParse(req.body);
    if (!parsed.success) return refuse(reply, 400, ErrorCode.BAD_REQUEST, 'the body must be a JSON array of arguments');
    try {
      return { result: await (fn as (...a: unknown[]) => unknown).apply(t.object, parsed.data) };
    } catch (err) {
      const known = WIRE_ERRORS.find((k) => k.is(err));
      const code = String((err as { code?: unknown }).code ?? ErrorCode.INTERNAL);
      if (!known) req.log.error({ err, target, method }, 'rpc call failed');
      return reply.code(statusOf(code)).send({ error: { name: known?.name ?? (err as Error).name ?? 'Error', code, message: (err as Error).message ?? String(err) } });
    }
  });
}

/** The methods of `T` that return promises: only those can be called over the wire. */
type AsyncKeys<T> = { [K in keyof T]: T[K] extends (...a: any[]) => Promise<unknown> ? K : never }[keyof T] & string;

/** `T` with every method returning a promise (a synchronous interface called remotely). */
export type Remote<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never };

export interface RemoteOptions {
  /** what the caller calls the remote in errors, e.g. "rules" */
  name?: string;
  timeoutMs?: number;
}

/**
 * An object whose `methods` call `target` at `url` (the RPC endpoint's base, e.g. http://rules:8081).
 * Arguments and results must be plain JSON: numbers for times, arrays for lists.
 */
export function createRemote<T, M extends AsyncKeys<T> = AsyncKeys<T>>(url: string, token: string, target: string, methods: readonly M[], opts: RemoteOptions = {}): Pick<T, M> {
  const base = url.replace(/\/+$/, '');
  const who = `${opts.name ?? 'remote'} at ${base}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const remote: Record<string, (...a: unknown[]) => Promise<unknown>> = {};
  for (const method of methods) {
    remote[method] = async (...callArgs: unknown[]) => {
      // a trailing undefined would arrive as null, which optional parameters do not take
      while (callArgs.length > 0 && callArgs.at(-1) === undefined) callArgs.pop();
      let res: Response;
      try {
        res = await fetch(`${base}${RPC_PATH}/${target}/${method}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(callArgs),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
        throw new RpcError(ErrorCode.INTERNAL, `${who}: cannot call ${target}.${method} (${why})`);
      }
      const body = (await res.json().catch(() => undefined)) as unknown;
      if (res.ok && body && typeof body === 'object') return (body as { result?: unknown }).result;
      const wire = wireError.safeParse(body);
      if (!wire.success) throw new RpcError(ErrorCode.INTERNAL, `${who}: ${target}.${method} answered HTTP ${res.status} without an error`, res.status);
      const { name, code, message } = wire.data.error;
      const known = WIRE_ERRORS.find((k) => k.name === name);
      if (known) throw known.make(code, message);
      throw new RpcError(code, `${who}: ${target}.${method}: ${message}`, res.status);
    };
  }
  return remote as unknown as Pick<T, M>;
}
