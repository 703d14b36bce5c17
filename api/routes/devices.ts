import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode, ID_PATTERN } from '../../contract/index.ts';
import { sha256Hex } from '../auth.ts';
import { ApiError, parseInput } from '../errors.ts';
import type { ApiDeps } from '../deps.ts';
import { AIS_RECEIVER, DeviceError, vesselTarget } from '../../lib/devices.ts';

const deviceId = z.string().regex(ID_PATTERN, 'letters, digits, _ . - (at most 64)');
/**
 * A device is for one of: a catalogue station, a vessel (a VMS tracker: `vessel` is its
 * registration number, which is also its device id; `true` takes the device id), or an AIS
 * receiver. Exactly one is given; the record keeps it as `station` (lib/devices.ts).
 */
const addDevice = z.union([
  z.strictObject({ deviceId, station: z.string().min(1) }),
  z.strictObject({ deviceId, vessel: z.union([z.string().regex(ID_PATTERN), z.literal(true)]) }),
  z.strictObject({ deviceId, receiver: z.literal(true) }),
], { error: 'give exactly one of station (a station id), vessel (a registration number) or receiver: true' });
const targetOf = (b: z.output<typeof addDevice>): string =>
  'station' in b ? b.station : 'vessel' in b ? vesselTarget(b.vessel === true ? b.deviceId : b.vessel) : AIS_RECEIVER;

export async function deviceRoutes(app: FastifyInstance, deps: ApiDeps) {
  app.get('/api/v1/devices', { preHandler: deps.requireRole('admin') }, async () => ({
    devices: (await deps.state.listDevices()).map(({ secretHash: _hidden, ...d }) => ({ ...d, createdAt: new Date(d.createdAt).toISOString() })),
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
  const requireAdmin = deps.requireRole('admin');
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id', {
    preHandler: async (req, reply) => {
      if (!isService(req)) await requireAdmin.call(app, req, reply);
    },
  }, async (req) => {
    const rec = await deps.state.getDevice(req.params.id);
    if (!rec) throw new ApiError(404, ErrorCode.NOT_FOUND, `no device "${req.params.id}"`);
    if (isService(req)) return rec;
    const { secretHash: _hidden, ...shown } = rec;
    return { ...shown, createdAt: new Date(shown.createdAt).toISOString() };
  });

  /** Registers a device and returns its secret: the only time the secret is ever shown. */
  app.post('/api/v1/devices', { preHandler: deps.requireRole('admin') }, async (req, reply) => {
    const body = parseInput(addDevice, req.body);
    const station = targetOf(body);
    const { secret } = await deps.registerDevice(body.deviceId, station).catch((err: unknown) => {
      // a refused station, vessel or receiver is the caller's mistake, not a server error
      if (err instanceof DeviceError && err.code === ErrorCode.BAD_REQUEST) throw new ApiError(400, err.code, err.message);
      throw err;
    });
    req.log.info({ audit: true, action: 'device.add', deviceId: body.deviceId, station }, 'device registered');
    return reply.code(201).send({ deviceId: body.deviceId, station, secret });
  });
}
