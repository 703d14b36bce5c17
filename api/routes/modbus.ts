import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ModbusError, ModbusErrorCode } from '../../ingest/modbus/errors.ts';
import type { ApiDeps, ModbusRouteDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

const body = z.object({ value: z.number().finite() });

/** HTTP status of each refusal: the operator's mistake (4xx) or the device's failure (502/504). */
const STATUS: Partial<Record<string, number>> = {
  [ModbusErrorCode.DEVICE_UNKNOWN]: 404,
  [ModbusErrorCode.REGISTER_UNKNOWN]: 404,
  [ModbusErrorCode.NOT_WRITABLE]: 403,
  [ModbusErrorCode.VALUE_INVALID]: 400,
  [ModbusErrorCode.TIMEOUT]: 504,
};

/**
 * `POST /api/v1/modbus/:deviceId/registers/:name` {value} (admin): set a register the map marks
 * writable, such as a PLC's reporting interval. Gate registers are never writable (the map loader
 * and the poller both refuse them). Audited.
 */
export async function modbusRoutes(fastify: FastifyInstance, deps: ApiDeps & { modbus: ModbusRouteDeps }) {
  const app = zodRoutes(fastify);
  app.post('/api/v1/modbus/:deviceId/registers/:name', {
    preHandler: deps.requireRole('admin'),
    schema: { summary: 'Write a register the map marks writable (admin, audited)', tags: ['modbus'], params: z.object({ deviceId: z.string(), name: z.string().describe('register name') }), body },
  }, async (req, reply) => {
    const { value } = req.body;
    try {
      const result = await deps.modbus.writeRegister(req.params.deviceId, req.params.name, value);
      req.log.info({ audit: true, action: 'modbus.write', by: req.principal?.name, ...result }, 'register written');
      return result;
    } catch (err) {
      if (!(err instanceof ModbusError)) throw err;
      req.log.warn({ audit: true, action: 'modbus.write', by: req.principal?.name, device: req.params.deviceId, register: req.params.name, value, refused: err.code }, 'register write refused');
      return reply.code(STATUS[err.code] ?? 502).send({ code: err.code, message: err.message });
    }
  });
}
