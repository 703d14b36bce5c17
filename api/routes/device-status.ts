import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { deviceStatus } from '../../contract/index.ts';
import type { ApiDeps } from '../deps.ts';
import type { DeviceStatusService } from '../device-status.ts';
import { zodRoutes } from '../openapi.ts';

const statusList = z.object({ devices: z.array(deviceStatus) });

/**
 * `GET /api/v1/devices/status` (viewer): every registered device, online or offline with the
 * time of the change (api/device-status.ts). The inventory is not public, hence the token.
 */
export async function deviceStatusRoutes(fastify: FastifyInstance, deps: ApiDeps & { deviceStatus: Pick<DeviceStatusService, 'list'> }) {
  const app = zodRoutes(fastify);
  app.get('/api/v1/devices/status', {
    preHandler: deps.requireRole('viewer'),
    schema: { summary: 'Each registered device: online, offline or never reported, with the time of the last change', tags: ['devices'], response: { 200: statusList } },
  }, async () => {
    const ids = (await deps.state.listDevices()).map((d) => d.deviceId).sort();
    return { devices: deps.deviceStatus.list(ids) };
  });
}
