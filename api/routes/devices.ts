import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode, ID_PATTERN } from '../../contract/index.ts';
import { sha256Hex } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { SERVICE_SCHEME, zodRoutes } from '../openapi.ts';
import type { ApiDeps } from '../deps.ts';
import { AIS_RECEIVER, DeviceError, SOS_APP, vesselTarget } from '../../lib/devices.ts';
import { AUDIT_NAMESPACE } from '../../rules/operator-actions.ts';

const deviceParams = z.object({ id: z.string().describe('device id') });
const deviceId = z.string().regex(ID_PATTERN, 'letters, digits, _ . - (at most 64)');
/** `rotate: true` replaces an existing device's secret (and target); without it an existing id is refused (409) */
const rotate = { rotate: z.boolean().optional() };
/**
 * A device is for one of: a catalogue station, a vessel (a VMS tracker: `vessel` is its
 * registration number, which is also its device id; `true` takes the device id), or an AIS
 * receiver, or an app that sends residents' SOS calls (`app: true`). Exactly one is given; the record keeps it as `station` (lib/devices.ts).
 */
const addDevice = z.union([
  z.strictObject({ deviceId, station: z.string().min(1), ...rotate }),
  z.strictObject({ deviceId, vessel: z.union([z.string().regex(ID_PATTERN), z.literal(true)]), ...rotate }),
  z.strictObject({ deviceId, receiver: z.literal(true), ...rotate }),
  z.strictObject({ deviceId, app: z.literal(true), ...rotate }),
], { error: 'give exactly one of station (a station id), vessel (a registration number), receiver: true or app: true' });
const targetOf = (b: z.output<typeof addDevice>): string =>
  'station' in b ? b.station : 'vessel' in b ? vesselTarget(b.vessel === true ? b.deviceId : b.vessel) : 'app' in b ? SOS_APP : AIS_RECEIVER;

/** A refused registry change is the caller's mistake (unknown target or device, an id taken), not a server error. */
const STATUS_OF: Partial<Record<string, number>> = { [ErrorCode.BAD_REQUEST]: 400, [ErrorCode.NOT_FOUND]: 404, [ErrorCode.CONFLICT]: 409 };
function asApiError(err: unknown): never {
  const status = err instanceof DeviceError ? STATUS_OF[err.code] : undefined;
  if (status) throw new ApiError(status, err instanceof DeviceError ? err.code : ErrorCode.INTERNAL, (err as Error).message);
  throw err;
}

const iso = <T extends { createdAt: number }>(d: T) => ({ ...d, createdAt: new Date(d.createdAt).toISOString() });
/** who did it, for the audit trail: the name of the token `requireRole` let through */
const userOf = (req: FastifyRequest) => req.principal?.name ?? 'unknown';

export async function deviceRoutes(app: FastifyInstance, deps: ApiDeps) {
  zodRoutes(app); // the routes below validate and document with their zod schemas (api/openapi.ts)
  const admin = deps.requireRole('admin');

  app.get('/api/v1/devices', { preHandler: admin, schema: { summary: 'The registered devices, without their secrets (admin)', tags: ['devices'] } }, async () => ({
    devices: (await deps.devices.list()).map(iso),
  }));

  /**
   * One device, for the device directory of processes that do not own the state database
   * (platform/device-directory.ts): to a service token with the secret's scrypt hash (the broker
   * verifies device passwords against it), to an admin without it.
   */
  const serviceDigests = (deps.serviceTokens ?? []).map((h) => Buffer.from(h, 'hex'));
  const isService = (req: FastifyRequest) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ') || serviceDigests.length === 0) return false;
    const digest = Buffer.from(sha256Hex(h.slice(7).trim()), 'hex');
    return serviceDigests.some((d) => timingSafeEqual(d, digest));
  };
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id', {
    // a service token or an admin's: checked in the handler below, hence declared here
    schema: { summary: 'One device (admin); with its secret hash to the platform\'s services', tags: ['devices'], params: deviceParams, security: [{ admin: [] }, { [SERVICE_SCHEME]: [] }] },
    preHandler: async (req, reply) => {
      if (!isService(req)) await admin.call(app, req, reply);
    },
  }, async (req) => {
    const rec = await deps.state.getDevice(req.params.id);
    if (!rec) throw new ApiError(404, ErrorCode.NOT_FOUND, `no device "${req.params.id}"`);
    if (isService(req)) return rec;
    const { secretHash: _hidden, ...shown } = rec;
    return iso(shown);
  });

  /** Registers a device and returns its secret: the only time the secret is ever shown. */
  app.post('/api/v1/devices', { preHandler: admin, schema: { summary: 'Register a device (or rotate: true); its secret is shown this once (admin)', tags: ['devices'], body: addDevice } }, async (req, reply) => {
    const body = req.body as z.output<typeof addDevice>; // parsed by the schema (api/openapi.ts)
    const station = targetOf(body);
    const { secret, rotated } = await deps.devices.register(body.deviceId, station, userOf(req), { rotate: body.rotate === true }).catch(asApiError);
    return reply.code(rotated ? 200 : 201).send({ deviceId: body.deviceId, station, secret, rotated });
  });

  /** A new secret, shown this once; the old one is refused from now on and its session cut. */
  app.post<{ Params: { id: string } }>('/api/v1/devices/:id/rotate', { preHandler: admin, schema: { summary: 'A new secret for a device, shown this once; the old one is refused (admin)', tags: ['devices'], params: deviceParams } }, async (req) => {
    const { secret } = await deps.devices.rotate(req.params.id, userOf(req)).catch(asApiError);
    return { deviceId: req.params.id, secret };
  });

  /** The device is refused (CONNACK 5) and its session cut; `rotate` enables it again. */
  app.post<{ Params: { id: string } }>('/api/v1/devices/:id/disable', { preHandler: admin, schema: { summary: 'Disable a device: refused at login, its session cut (admin)', tags: ['devices'], params: deviceParams } }, async (req) =>
    iso(await deps.devices.disable(req.params.id, userOf(req)).catch(asApiError)),
  );

  app.delete<{ Params: { id: string } }>('/api/v1/devices/:id', { preHandler: admin, schema: { summary: 'Remove a device (admin)', tags: ['devices'], params: deviceParams } }, async (req, reply) => {
    await deps.devices.remove(req.params.id, userOf(req)).catch(asApiError);
    return reply.code(204).send();
  });

  /** The audit trail, oldest first: device changes and operators' actions on alerts (who, what, when). */
  app.get('/api/v1/audit', { preHandler: admin, schema: { summary: 'The audit trail, oldest first: device changes and operators\' actions (admin)', tags: ['audit'] } }, async () => ({
    entries: (await deps.state.listJson<Record<string, unknown>>(AUDIT_NAMESPACE)).map((e) => e.value),
  }));
}
