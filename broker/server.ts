import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { mqttStreamOf } from './ws-stream.ts';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { parseDeviceTarget } from '../lib/devices.ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from 'pino';
import { ID_PATTERN, parseTopic, topics } from '../contract/topics.ts';
import { deviceErrorPayload, ErrorCode } from '../contract/errors.ts';
import type { StateStore } from '../store/types.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import { authorize, type Principal, type ServiceName } from './acl.ts';
import { guardReads } from './frame-guard.ts';
import { hashSecret, newSecret, verifySecret } from './secrets.ts';
import { createRevocations } from './auth-revocation.ts';

/** Limits, each with the reason it exists. Validated once in createBrokerServer, then frozen. */
export const brokerLimitsSchema = z.object({
  /** a reading, a store-and-forward flush or an NMEA burst is a few KiB; 64 KiB leaves headroom */
  maxPayloadBytes: z.number().int().positive().default(64 * 1024),
  /** soft cap on connected clients; past it CONNACK 3 (server unavailable) [MQTT-3.2.2-6] */
  maxClients: z.number().int().positive().default(50_000),
  /** a socket that never sends CONNECT holds memory; aedes' default is 30 s */
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** a subscriber that stops reading is dropped after this, so it cannot stall delivery to others */
  drainTimeoutMs: z.number().int().positive().default(30_000),
  /** messages mqemitter routes at once; aedes' default of 100 queues early under a flood (FACTS.md) */
  concurrency: z.number().int().positive().default(1_000),
  /** one log line per client per interval for refusals; the counter sees every one */
  refusalLogIntervalMs: z.number().int().positive().default(60_000),
});
export type BrokerLimits = z.output<typeof brokerLimitsSchema>;

export type RefusalReason =
  | 'bad_credentials'
  | 'anonymous_refused'
  | 'device_disabled'
  | 'client_id_refused'
  | 'will_denied'
  | 'server_full'
  | 'publish_denied'
  | 'subscribe_denied'
  | 'payload_too_large';

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
  readonly counters: { readonly clients: number; readonly published: number; refused(reason?: RefusalReason): number };
  /** cuts a device's live session and refuses what was checked against its old record (also done on `devices/{id}/changed`) */
  revokeDevice(deviceId: string): void;
}

/** CONNACK return codes, MQTT 3.1.1 table 3.1 */
const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_CREDENTIALS: 4, NOT_AUTHORIZED: 5 } as const;
/** room for the topic and packet id on top of the payload when bounding whole packets */
const PACKET_OVERHEAD_BYTES = 1024;
/** where a message that was taken only to be dropped goes: a topic nobody can subscribe to */
const DROPPED_TOPIC = '$huewatch/dropped';
/** mqemitter recursion bound, see breakRecursion below */
const MAX_SYNC_DEPTH = 64;

type Refusal = { ok: false; reason: RefusalReason; code: number };
type Admission = { ok: true; principal: Principal } | Refusal;
const refusal = (reason: RefusalReason, code: number): Refusal => ({ ok: false, reason, code });

function connackError(code: number): Error & { returnCode: number } {
  return Object.assign(new Error(`connection refused (${code})`), { returnCode: code });
}

function payloadBytes(p: PublishPacket['payload']): number {
  return typeof p === 'string' ? Buffer.byteLength(p) : p.length;
}

export function createBrokerServer(opts: BrokerServerOptions): BrokerServer {
  const limits: BrokerLimits = Object.freeze(brokerLimitsSchema.parse(pickLimits(opts)));
  const log = opts.log.child({ module: 'broker' });
  const refusalLog = new ThrottledLog(log, limits.refusalLogIntervalMs);
  const services = new Map(opts.services.map((s) => [s.name as string, s]));
  const principals = new WeakMap<Client, Principal>();
  const connects = new WeakMap<Client, { clientId: string; will: PublishPacket | undefined }>();
  const refusedCounts = new Map<RefusalReason, number>();
  let published = 0;
  let dummyHash = '';
  /** the revocation count a device's session was admitted under, checked again once aedes registers it */
  const admittedAt = new WeakMap<Client, number>();

  const aedes = new Aedes({
    concurrency: limits.concurrency,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    preConnect: (client, packet, cb) => {
      connects.set(client, { clientId: packet.clientId, will: packet.will as PublishPacket | undefined });
      cb(null, true);
    },
    authenticate: (client, username, password, cb) => {
      admit(client, username, password).then(
        (a) => {
          if (a.ok) {
            principals.set(client, a.principal);
            return cb(null, true);
          }
          refuse(client, a.reason, { username });
          cb(connackError(a.code), false);
        },
        (err: unknown) => {
          log.error({ err, clientId: client.id }, 'authentication failed with an error');
          cb(connackError(CONNACK.SERVER_UNAVAILABLE), false);
        },
      );
    },
    authorizePublish: (client, packet, cb) => {
      if (!client) {
        // an orphaned will of a broker that died (shared persistence): its topic was checked at
        // CONNECT; only device status wills exist here
        return parseTopic(packet.topic)?.kind === 'status' ? cb(null) : cb(new Error('will refused'));
      }
      const principal = principals.get(client);
      if (payloadBytes(packet.payload) > limits.maxPayloadBytes) {
        const bytes = payloadBytes(packet.payload);
        refuse(client, 'payload_too_large', { topic: packet.topic, bytes });
        tellDevice(client, ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${bytes} bytes is over the limit of ${limits.maxPayloadBytes}`, packet.topic);
        // Taken and dropped, not refused by closing: a persistent-session client would resend it
        // after every reconnect, for ever (FACTS.md). Acknowledged, then routed to nobody: no
        // client may subscribe to a `$` topic of ours, and `#` never matches one [MQTT-4.7.2-1].
        packet.topic = DROPPED_TOPIC;
        packet.payload = Buffer.alloc(0);
        packet.retain = false;
        return afterEarlierAcks(client, undefined, cb);
      }
      if (!principal || !authorize(principal, 'publish', packet.topic, { retain: packet.retain })) {
        refuse(client, 'publish_denied', { topic: packet.topic, retain: packet.retain });
        return cb(new Error('not authorized')); // [MQTT-3.3.5-2]
      }
      published++;
      publishes.inc({ role: principal.role });
      const taken = opts.ingress && principal.role === 'device' && principal.kind === 'station' && parseTopic(packet.topic)?.kind === 'telemetry'
        ? opts.ingress(principal.deviceId, packet.payload as Buffer, packet.topic)
        : undefined;
      afterEarlierAcks(client, taken, cb);
    },
    authorizeSubscribe: (client, sub, cb) => {
      const principal = principals.get(client);
      if (principal && authorize(principal, 'subscribe', sub.topic)) return cb(null, sub);
      refuse(client, 'subscribe_denied', { topic: sub.topic });
      cb(null, null); // SUBACK 0x80 for this filter only [MQTT-3.9.3-2]; cb(err) would disconnect
    },
  });

  const refusedTotal = new Counter({
    name: 'huewatch_broker_refused_total',
    help: 'Connections, publishes and subscriptions the broker refused, by reason',
    labelNames: ['reason'],
    registers: [opts.metrics],
  });
  const publishes = new Counter({
    name: 'huewatch_broker_publishes_total',
    help: 'PUBLISH packets from clients the broker accepted, by role',
    labelNames: ['role'],
    registers: [opts.metrics],
  });
  new Gauge({
    name: 'huewatch_broker_clients',
    help: 'Connected MQTT clients',
    registers: [opts.metrics],
    collect() {
      this.set(aedes.connectedClients ?? 0);
    },
  });

  /**
   * PUBACKs go out in the order the PUBLISH packets came [MQTT-4.6.0-2], though a client's
   * telemetry waits for a group commit and a bad message is answered at once: each answer waits
   * for the client's answers before it. The chain holds one promise per client with acks pending.
   */
  const ackTail = new WeakMap<Client, Promise<void>>();
  function afterEarlierAcks(client: Client, taken: Promise<unknown> | undefined, cb: (err: Error | null) => void): void {
    const before = ackTail.get(client);
    if (!before && !taken) return cb(null);
    const mine: Promise<void> = (before ? before.then(() => taken) : taken!).then(() => cb(null), (err: unknown) => cb(err as Error));
    ackTail.set(client, mine);
    void mine.then(() => {
      if (ackTail.get(client) === mine) ackTail.delete(client);
    });
  }

  /** at most one message a second per client on its errors topic: a flood of bad input is no flood of errors */
  const lastTold = new WeakMap<Client, number>();
  function tellDevice(client: Client | null, code: ErrorCode, problem: string, topic: string): void {
    const principal = client && principals.get(client);
    if (!client || principal?.role !== 'device') return;
    const now = Date.now();
    if (now - (lastTold.get(client) ?? 0) < 1_000) return;
    lastTold.set(client, now);
    const payload = Buffer.from(deviceErrorPayload(code, problem, topic, now));
    aedes.publish({ cmd: 'publish', topic: topics.deviceErrors(principal.deviceId), payload, qos: 0, retain: false, dup: false } as PublishPacket, () => undefined);
  }

  function refuse(client: Client | null, reason: RefusalReason, fields: Record<string, unknown>): void {
    refusedTotal.inc({ reason });
    refusedCounts.set(reason, (refusedCounts.get(reason) ?? 0) + 1);
    const clientId = client?.id ?? 'unknown';
    refusalLog.warn(clientId, { clientId, reason, ...fields }, 'broker refused');
  }

  async function admit(client: Client, username: string | undefined, password: Buffer | undefined): Promise<Admission> {
    if ((aedes.connectedClients ?? 0) >= limits.maxClients) return refusal('server_full', CONNACK.SERVER_UNAVAILABLE);
    const info = connects.get(client);
    const clientId = info?.clientId ?? '';
    const secret = password?.toString('utf8') ?? '';
    let principal: Principal;
    if (!username) {
      if (!opts.allowAnonymousResidents) return refusal('anonymous_refused', CONNACK.NOT_AUTHORIZED);
      // a resident must not take over a device's or service's session [MQTT-3.1.4-2]
      const taken = clientId.startsWith('svc-') || (ID_PATTERN.test(clientId) && (await opts.devices.getDevice(clientId)));
      if (taken) return refusal('client_id_refused', CONNACK.IDENTIFIER_REJECTED);
      principal = { role: 'resident' };
    } else if (username.startsWith('svc-')) {
      const svc = services.get(username.slice(4));
      const ok = await verifySecret(secret, svc?.secretHash ?? dummyHash);
      if (!svc || !ok) return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
      if (!clientId.startsWith(username)) return refusal('client_id_refused', CONNACK.IDENTIFIER_REJECTED);
      principal = { role: 'service', name: svc.name };
    } else {
      const generation = revocations.generation(username);
      const rec = ID_PATTERN.test(username) ? await opts.devices.getDevice(username) : undefined;
      // the same scrypt work whether or not the device exists: no user enumeration by timing
      const ok = await verifySecret(secret, rec?.secretHash ?? dummyHash);
      if (!rec || !ok) return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
      if (rec.disabled) return refusal('device_disabled', CONNACK.NOT_AUTHORIZED);
      if (clientId !== rec.deviceId) return refusal('client_id_refused', CONNACK.IDENTIFIER_REJECTED);
      // changed while its secret was checked: the record read may be the old one
      if (revocations.revokedSince(rec.deviceId, generation)) return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
      admittedAt.set(client, generation);
      principal = { role: 'device', deviceId: rec.deviceId, kind: parseDeviceTarget(rec.station).kind };
    }
    // aedes stores the will at CONNECT and checks it only when it fires; refuse a bad one now,
    // so that a device learns at once and never holds a will it may not send
    const will = info?.will;
    if (will) {
      const ok = payloadBytes(will.payload) <= limits.maxPayloadBytes && authorize(principal, 'publish', will.topic, { retain: will.retain });
      if (!ok) return refusal('will_denied', CONNACK.NOT_AUTHORIZED);
    }
    return { ok: true, principal };
  }

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

  /**
   * mqemitter 7 drains its queue recursively: released() → _do() → fastparallel, which calls
   * released() again synchronously when a message has no listener left. When a subscriber leaves
   * during a flood, thousands of queued messages suddenly match nothing and the stack overflows
   * (FACTS.md; reproduced in flood.test.ts). A catch-all listener makes every message match at
   * least once and, past MAX_SYNC_DEPTH nested calls, completes on the next turn of the loop.
   */
  let depth = 0;
  function breakRecursion(_packet: unknown, done: () => void): void {
    if (depth >= MAX_SYNC_DEPTH) {
      setImmediate(done);
      return;
    }
    depth++;
    try {
      done();
    } finally {
      depth--;
    }
  }

  const frameLimit = limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES;
  function handle(stream: Parameters<Aedes['handle']>[0], req?: Parameters<Aedes['handle']>[1]): void {
    let client: Client | null = null;
    guardReads(stream, frameLimit, (length) => refuse(client, 'payload_too_large', { packetBytes: length }), (dropped) => {
      // cut out before it was buffered (frame-guard.ts): acknowledged here, so the device moves on
      const id = dropped.packetId;
      if (id !== undefined) {
        const answer = Buffer.from([dropped.qos === 1 ? 0x40 : 0x50, 2, id >> 8, id & 0xff]);
        const before = client && ackTail.get(client);
        if (before) void before.then(() => stream.write(answer));
        else stream.write(answer);
      }
      tellDevice(client, ErrorCode.PAYLOAD_TOO_LARGE, `packet of ${dropped.length} bytes is over the limit of ${frameLimit}`, dropped.topic);
    });
    client = aedes.handle(stream, req);
  }

  let tcp: NetServer | undefined;
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;

  async function listen(server: NetServer | HttpServer, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  return {
    aedes,
    async start() {
      if (tcp) throw new Error('broker already started');
      dummyHash = await hashSecret(newSecret());
      await aedes.listen();
      aedes.subscribe('#', breakRecursion, () => {});
      await revocations.listen();
      aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
      aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'));

      tcp = createNetServer((sock) => {
        sock.setNoDelay(true); // Nagle adds ~20 ms per hop on small packets (FACTS.md)
        handle(sock);
      });
      tcp.maxConnections = limits.maxClients + 100; // hard ceiling; the soft one answers CONNACK 3
      const mqttPort = await listen(tcp, opts.port);

      let wsPort: number | undefined;
      if (opts.wsPort !== undefined) {
        http = createHttpServer((_req, res) => res.writeHead(426, { connection: 'close' }).end());
        // ws refuses (close 1009) a single message past the frame limit before buffering more
        wss = new WebSocketServer({ server: http, path: '/mqtt', maxPayload: frameLimit + 16 });
        wss.on('connection', (ws, req) => {
          req.socket.setNoDelay(true);
          handle(mqttStreamOf(ws), req);
        });
        wsPort = await listen(http, opts.wsPort);
      }
      log.info({ mqttPort, wsPort }, 'broker listening');
      return { mqttPort, wsPort };
    },
    async stop() {
      const closing = [tcp, http].filter((s): s is NetServer | HttpServer => s !== undefined).map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      );
      wss?.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      http?.closeAllConnections();
      await Promise.all(closing);
      tcp = http = wss = undefined;
    },
    revokeDevice: (deviceId) => revocations.revoke(deviceId),
    counters: {
      get clients() {
        return aedes.connectedClients ?? 0;
      },
      get published() {
        return published;
      },
      refused(reason?: RefusalReason) {
        if (reason) return refusedCounts.get(reason) ?? 0;
        let n = 0;
        for (const v of refusedCounts.values()) n += v;
        return n;
      },
    },
  };
}

function pickLimits(o: BrokerServerOptions): z.input<typeof brokerLimitsSchema> {
  const keys = Object.keys(brokerLimitsSchema.shape) as Array<keyof z.input<typeof brokerLimitsSchema>>;
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
