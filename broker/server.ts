import { Aedes, type Client } from 'aedes';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { StateStore } from '../store/types.ts';
import type { Principal, ServiceName } from './acl.ts';
import { createAckOrder } from './ack-order.ts';
import { createAdmission } from './admission.ts';
import { aedesHooks } from './aedes-hooks.ts';
import { createRevocations } from './auth-revocation.ts';
import { createBrokerMetrics, type BrokerCounters } from './broker-metrics.ts';
import { createDeviceErrors } from './device-errors.ts';
import { brokerLimitsSchema, PACKET_OVERHEAD_BYTES, parseLimits } from './limits.ts';
import { createListeners } from './listeners.ts';
import { createRecursionBreak } from './recursion-break.ts';
import { hashSecret, newSecret } from './secrets.ts';

export { brokerLimitsSchema, type BrokerLimits } from './limits.ts';
export type { RefusalReason } from './broker-metrics.ts';

export interface BrokerServerOptions extends z.input<typeof brokerLimitsSchema> {
  log: Logger;
  metrics: Registry;
  /** the registry; `forget` drops a cached entry when a change is announced (auth-revocation.ts) */
  devices: Pick<StateStore, 'getDevice'> & { forget?(deviceId: string): void };
  services: ReadonlyArray<{ name: ServiceName; secretHash: string }>;
  allowAnonymousResidents: boolean;
  host?: string;
  /** 0 = ephemeral */
  port: number;
  /** MQTT over WebSocket on path /mqtt; 0 = ephemeral; absent = no WebSocket listener */
  wsPort?: number;
  /**
   * Ingest in this process (ingest/ingest.ts `accept`): a device's telemetry is handed to it
   * before the PUBACK, which goes out only when the returned promise resolves (its readings are
   * durable, or it was bad input and dropped). A rejection refuses the message without PUBACK
   * (the connection closes; the device resends it). aedes writes the PUBACK right after
   * authorizePublish (FACTS.md "Where acknowledgements happen"), so this is the one place to hold it.
   */
  ingress?: (deviceId: string, payload: Buffer, topic: string) => Promise<unknown> | undefined;
}

export interface BrokerServer {
  readonly aedes: Aedes;
  start(): Promise<{ mqttPort: number; wsPort: number | undefined }>;
  stop(): Promise<void>;
  readonly counters: BrokerCounters;
  /** cuts a device's live session and refuses what was checked against its old record (also done on `devices/{id}/changed`) */
  revokeDevice(deviceId: string): void;
}

/**
 * aedes with HueWatch's admission (admission.ts), ACL hooks (aedes-hooks.ts), revocation
 * (auth-revocation.ts), metrics (broker-metrics.ts) and limits (limits.ts), on TCP and WebSocket
 * (listeners.ts).
 */
export function createBrokerServer(opts: BrokerServerOptions): BrokerServer {
  const limits = parseLimits(opts);
  const log = opts.log.child({ module: 'broker' });
  const principals = new WeakMap<Client, Principal>();
  const admittedAt = new WeakMap<Client, number>();
  const acks = createAckOrder();
  let dummyHash = '';
  const connectedClients = () => aedes.connectedClients ?? 0;
  const metrics = createBrokerMetrics({ metrics: opts.metrics, log, refusalLogIntervalMs: limits.refusalLogIntervalMs, connectedClients });
  const admit = createAdmission({
    devices: opts.devices,
    services: opts.services,
    allowAnonymousResidents: opts.allowAnonymousResidents,
    maxClients: limits.maxClients,
    maxPayloadBytes: limits.maxPayloadBytes,
    connectedClients,
    revocations: { generation: (id) => revocations.generation(id), revokedSince: (id, g) => revocations.revokedSince(id, g) },
    dummyHash: () => dummyHash,
  });

  const aedes: Aedes = new Aedes({
    concurrency: limits.concurrency,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    ...aedesHooks({
      log, maxPayloadBytes: limits.maxPayloadBytes, principals, admittedAt, admit, metrics, acks, ingress: opts.ingress,
      tellDevice: (...args) => tellDevice(...args),
    }),
  });
  const tellDevice = createDeviceErrors(aedes, (client) => principals.get(client));

  const revocations = createRevocations({
    aedes,
    isDevice: (client, deviceId) => {
      const p = principals.get(client);
      return p?.role === 'device' && p.deviceId === deviceId;
    },
    ...(opts.devices.forget ? { forget: (id: string) => opts.devices.forget!(id) } : {}),
    onRevoke: (deviceId, cut) => (cut ? log.info({ deviceId }, 'device changed: its session was cut') : log.debug({ deviceId }, 'device changed')),
  });
  // aedes registers a session a moment after authenticate: a revocation in between is caught here
  aedes.on('client', (client) => {
    const p = principals.get(client);
    const at = admittedAt.get(client);
    if (p?.role === 'device' && at !== undefined && revocations.revokedSince(p.deviceId, at)) client.close();
  });

  const listeners = createListeners({
    aedes, host: opts.host, port: opts.port, wsPort: opts.wsPort,
    maxConnections: limits.maxClients + 100, // hard ceiling; the soft one answers CONNACK 3
    frameLimit: limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
    refuse: metrics.refuse, tellDevice, acks,
  });

  return {
    aedes,
    async start() {
      if (listeners.listening) throw new Error('broker already started');
      dummyHash = await hashSecret(newSecret());
      await aedes.listen();
      aedes.subscribe('#', createRecursionBreak(), () => {});
      await revocations.listen();
      aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
      aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'));
      const ports = await listeners.start();
      log.info(ports, 'broker listening');
      return ports;
    },
    stop: () => listeners.stop(),
    revokeDevice: (deviceId) => revocations.revoke(deviceId),
    counters: metrics.counters,
  };
}
