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
import { createListeners, type ListenerPorts } from './listeners.ts';
import { loadTlsContext, type TlsFiles } from './tls.ts';
import { createPublishQuota } from './publish-quota.ts';
import type { BrokerState } from './persistence.ts';
import { createRecursionBreak } from './recursion-break.ts';
import { hashSecret, newSecret } from './secrets.ts';
import { createLoginGuard } from '../lib/login-guard.ts';
import { createVerifyQueue } from './verify-queue.ts';
import { createVerifiedCache } from './verified-cache.ts';

export { brokerLimitsSchema, type BrokerLimits } from './limits.ts';
export type { RefusalReason } from './broker-metrics.ts';

export interface BrokerServerOptions extends z.input<typeof brokerLimitsSchema> {
  log: Logger;
  metrics: Registry;
  /** the registry; `forget` drops a cached entry when a change is announced (auth-revocation.ts) */
  devices: Pick<StateStore, 'getDevice'> & { forget?(deviceId: string): void };
  services: ReadonlyArray<{ name: ServiceName; secretHash: string }>;
  allowAnonymousResidents: boolean;
  /** MQTT_CONFORMANCE: anonymous clients also publish and subscribe in a test tree outside `huewatch/` (conformance.ts) */
  conformance?: boolean;
  host?: string;
  /** 0 = ephemeral */
  port: number;
  /** MQTT over WebSocket on path /mqtt; 0 = ephemeral; absent = no WebSocket listener */
  wsPort?: number;
  /**
   * mqtts on `port` and, with `wssPort`, MQTT over secure WebSocket (/mqtt), with the
   * certificate of `files` (tls.ts), bound on `host` (default: the plain listeners' `host`);
   * `reloadTls()` reads the files again. 0 = ephemeral
   */
  tls?: { files: TlsFiles; port: number; wssPort?: number; host?: string };
  /**
   * Ingest in this process (ingest/ingest.ts `accept`): a device's telemetry is handed to it
   * before the PUBACK, which goes out only when the returned promise resolves (its readings are
   * durable, or it was bad input and dropped). A rejection refuses the message without PUBACK
   * (the connection closes; the device resends it). aedes writes the PUBACK right after
   * authorizePublish (FACTS.md "Where acknowledgements happen"), so this is the one place to hold it.
   */
  ingress?: (deviceId: string, payload: Buffer, topic: string) => Promise<unknown> | undefined;
  /** where retained messages, sessions and QoS 1 queues live (persistence.ts); absent = memory */
  state?: BrokerState;
  /** aedes' heartbeat between brokers sharing state (a dead broker's shared-subscription members are dropped after 3) */
  heartbeatIntervalMs?: number;
}

export interface BrokerServer {
  readonly aedes: Aedes;
  start(): Promise<ListenerPorts>;
  /** reads the TLS certificate and key files again for new handshakes (SIGHUP); open sessions stay. Throws, keeping the old ones, when the new files are bad */
  reloadTls(): Promise<void>;
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
    conformance: opts.conformance,
    maxClients: limits.maxClients,
    maxPayloadBytes: limits.maxPayloadBytes,
    connectedClients,
    revocations: { generation: (id) => revocations.generation(id), revokedSince: (id, g) => revocations.revokedSince(id, g) },
    dummyHash: () => dummyHash,
    login: {
      guard: createLoginGuard({ perAddress: limits.loginPerAddress, perUsername: limits.loginPerUsername, metrics: opts.metrics, log, surface: 'mqtt', logIntervalMs: limits.refusalLogIntervalMs }),
      queue: createVerifyQueue({ concurrency: limits.verifyConcurrency, perAddress: limits.verifyPendingPerAddress, maxPending: limits.verifyPendingMax }),
      verified: createVerifiedCache(),
    },
  });

  const quota = createPublishQuota({ limits: limits.deviceQuota, metrics: opts.metrics, tellDevice: (...args) => tellDevice(...args) });
  const aedes: Aedes = new Aedes({
    concurrency: limits.concurrency,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    ...(opts.heartbeatIntervalMs ? { heartbeatInterval: opts.heartbeatIntervalMs } : {}),
    ...opts.state?.aedesOptions,
    queueLimit: limits.preConnackQueue,
    maxTopicLevels: limits.maxTopicLevels,
    ...aedesHooks({
      conformance: opts.conformance,
      log, maxPayloadBytes: limits.maxPayloadBytes, principals, admittedAt, admit, metrics, acks, ingress: opts.ingress,
      tellDevice: (...args) => tellDevice(...args), quota,
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
  // Brokers sharing Redis: one went silent (aedes lib/shared.js). What it had stored but not yet
  // routed waits in the queues of persistent sessions connected here; a service's session (ingest)
  // is closed so that it reconnects and its queue is replayed. Residents and devices are left be.
  // (an event our aedes change adds: not in aedes' typings)
  (aedes as unknown as NodeJS.EventEmitter).on('brokerDown', (brokerId: string) => {
    const clients = (aedes as unknown as { clients: Record<string, Client> }).clients;
    const services = Object.values(clients).filter((c) => !c.clean && principals.get(c)?.role === 'service');
    log.warn({ brokerId, reconnecting: services.map((c) => c.id) }, 'a broker sharing REDIS_URL went silent: persistent service sessions here reconnect to replay their queues');
    for (const c of services) c.close();
  });
  // aedes registers a session a moment after authenticate: a revocation in between is caught here
  aedes.on('client', (client) => {
    const p = principals.get(client);
    const at = admittedAt.get(client);
    if (p?.role === 'device' && at !== undefined && revocations.revokedSince(p.deviceId, at)) client.close();
  });

  let tlsContext: Awaited<ReturnType<typeof loadTlsContext>> | undefined;
  const listeners = createListeners({
    aedes, host: opts.host, port: opts.port, wsPort: opts.wsPort,
    get tls() {
      return opts.tls && tlsContext ? { context: tlsContext, port: opts.tls.port, wssPort: opts.tls.wssPort, host: opts.tls.host } : undefined;
    },
    maxConnections: limits.maxClients + 100, // hard ceiling; the soft one answers CONNACK 3
    frameLimit: limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
    refuse: metrics.refuse, tellDevice, acks,
  });

  return {
    aedes,
    async start() {
      if (listeners.listening) throw new Error('broker already started');
      if (opts.tls) tlsContext = await loadTlsContext(opts.tls.files); // a bad file refuses the start, before any port is bound
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
    stop: async () => {
      await listeners.stop();
      await opts.state?.close();
    },
    async reloadTls() {
      if (!opts.tls) return;
      const context = await loadTlsContext(opts.tls.files);
      tlsContext = context;
      listeners.setSecureContext(context);
      log.info({ certFile: opts.tls.files.certFile }, 'TLS certificate reloaded');
    },
    revokeDevice: (deviceId) => revocations.revoke(deviceId),
    counters: metrics.counters,
  };
}
