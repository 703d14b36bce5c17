import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ID_PATTERN } from '../../contract/index.ts';
import { parseInput } from '../errors.ts';
import type { ApiDeps } from '../server.ts';

const addDevice = z.object({
  deviceId: z.string().regex(ID_PATTERN, 'letters, digits, _ . - (at most 64)'),
  station: z.string(),
});

export async function deviceRoutes(app: FastifyInstance, deps: ApiDeps) {
  app.get('/api/v1/devices', { preHandler: deps.requireRole('admin') }, async () => ({
    devices: (await deps.state.listDevices()).map(({ secretHash: _hidden, ...d }) => ({ ...d, createdAt: new Date(d.createdAt).toISOString() })),
  }));

  /** Registers a device and returns its secret: the only time the secret is ever shown. */
  app.post('/api/v1/devices', { preHandler: deps.requireRole('admin') }, async (req, reply) => {
    const body = parseInput(addDevice, req.body);
    const { secret } = await deps.registerDevice(body.deviceId, body.station);
    req.log.info({ audit: true, action: 'device.add', deviceId: body.deviceId, station: body.station }, 'device registered');
    return reply.code(201).send({ deviceId: body.deviceId, station: body.station, secret });
  });
}
