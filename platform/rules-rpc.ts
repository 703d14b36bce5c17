import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../contract/errors.ts';
import type { DeclareStorm } from '../api/deps.ts';
import type { VesselQuery } from '../ingest/vessels/service.ts';
import type { OperatorActions } from '../rules/operator-actions.ts';
import type { StateStore } from '../store/types.ts';
import type { DeviceAdmin } from '../lib/devices.ts';
import { bearerIs, createRemote, rpcRoutes, type Remote } from './rpc.ts';

/**
 * The rules process owns the state database (DuckDB lets one process open the file). When the API
 * runs in a process of its own, it calls these over the rules process's ops listener (RULES_URL);
 * each list below is all that is callable of its target.
 */

/** What the API process and its delivery channels (api/, delivery/) call on the state store. */
export const STATE_METHODS = ['getDevice', 'listDevices', 'getAlert', 'alertHistory', 'listAlerts', 'appendAlertEvent', 'getJson', 'putJson', 'deleteJson', 'writeJsonBatch', 'listJson'] as const;
export type SharedState = Pick<StateStore, (typeof STATE_METHODS)[number]>;
export const OPERATOR_METHODS = ['acknowledge', 'cancel', 'declareRelease'] as const;
export const VESSEL_METHODS = ['list', 'get', 'track', 'declareStorm'] as const;
export const DEVICE_METHODS = ['register', 'rotate', 'disable', 'remove', 'list'] as const;

export interface RulesSide {
  state: SharedState;
  operator: OperatorActions;
  vessels?: { query: VesselQuery; declareStorm: DeclareStorm };
  devices: DeviceAdmin;
}

/** The rules process's ops routes: the RPC targets, and the device lookup of STATE_URL. */
export function rulesOpsRoutes(app: FastifyInstance, side: RulesSide & { token: string }): void {
  const q = side.vessels?.query;
  rpcRoutes(app, {
    token: side.token,
    targets: {
      state: { object: side.state, methods: STATE_METHODS },
      operator: { object: side.operator, methods: OPERATOR_METHODS },
      ...(q && side.vessels
        ? {
            vessels: {
              object: {
                list: (filter?: Parameters<VesselQuery['list']>[0]) => q.list(filter),
                get: (id: string) => q.get(id),
                track: q.track,
                declareStorm: side.vessels.declareStorm,
              },
              methods: VESSEL_METHODS,
            },
          }
        : {}),
      devices: { object: side.devices, methods: DEVICE_METHODS },
    },
  });

  // As the API answers a service token (api/routes/devices.ts), so STATE_URL may point here.
  const isService = bearerIs(side.token);
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id', async (req, reply) => {
    if (!isService(req)) return reply.code(401).send({ code: ErrorCode.NOT_AUTHORIZED, message: 'the services\' bearer token (SVC_TOKEN) is required' });
    const rec = await side.state.getDevice(req.params.id);
    if (!rec) return reply.code(404).send({ code: ErrorCode.NOT_FOUND, message: `no device "${req.params.id}"` });
    return rec;
  });
}

/** For an API process without the rules engine: the rules process's objects, called at `url`. */
export function remoteRules(url: string, token: string, timeoutMs?: number) {
  const o = { name: 'rules', ...(timeoutMs ? { timeoutMs } : {}) };
  const vessels = createRemote<Remote<VesselQuery> & { declareStorm: DeclareStorm }>(url, token, 'vessels', VESSEL_METHODS, o);
  return {
    state: createRemote<SharedState>(url, token, 'state', STATE_METHODS, o),
    operator: createRemote<OperatorActions>(url, token, 'operator', OPERATOR_METHODS, o),
    vessels: { list: vessels.list, get: vessels.get, track: vessels.track },
    declareStorm: vessels.declareStorm,
    devices: createRemote<DeviceAdmin>(url, token, 'devices', DEVICE_METHODS, o),
  };
}
