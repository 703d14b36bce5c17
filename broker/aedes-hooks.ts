import type { AedesOptions, Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { ErrorCode } from '../contract/errors.ts';
import { parseTopic } from '../contract/topics.ts';
import type { Principal } from './acl.ts';
import type { AckOrder } from './ack-order.ts';
import { CONNACK, connackError, type Admission, type ConnectInfo } from './admission.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import { authorizeIn, forwardAllowed } from './conformance.ts';
import type { TellDevice } from './device-errors.ts';
import { payloadBytes } from './limits.ts';
import type { PublishQuota } from './publish-quota.ts';

/** where a message that was taken only to be dropped goes: a topic nobody can subscribe to */
const DROPPED_TOPIC = '$huewatch/dropped';

export interface HookDeps {
  log: Logger;
  maxPayloadBytes: number;
  /** who each admitted client is (set here, read by the ACL and the revocations) */
  principals: WeakMap<Client, Principal>;
  /** the revocation count a device's session was admitted under, checked again once aedes registers it */
  admittedAt: WeakMap<Client, number>;
  admit(info: ConnectInfo | undefined, username: string | undefined, password: Buffer | undefined): Promise<Admission>;
  metrics: Pick<BrokerMetrics, 'refuse' | 'published'>;
  tellDevice: TellDevice;
  acks: AckOrder;
  /** see BrokerServerOptions.ingress */
  ingress?: ((deviceId: string, payload: Buffer, topic: string) => Promise<unknown> | undefined) | undefined;
  /** the MQTT 3.1.1 conformance profile: residents also publish and subscribe in the test tree (conformance.ts) */
  conformance?: boolean | undefined;
  /** devices' publish quota (publish-quota.ts): QoS 0 over it dropped, QoS 1/2 held back */
  quota?: Pick<PublishQuota, 'check'> | undefined;
}

/** aedes' callback hooks, wrapped once here: CONNECT admission, and the ACL on publish and subscribe. */
export function aedesHooks(d: HookDeps): Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'> {
  const connects = new WeakMap<Client, ConnectInfo>();
  const { principals, metrics, log } = d;
  const conformance = d.conformance === true;
  return {
    // the profile's residents may hold `#`: what of ours reaches them is what they could read anyway
    ...(conformance ? { authorizeForward: residentsForward(principals) } : {}),
    preConnect: (client, packet, cb) => {
      connects.set(client, { clientId: packet.clientId, will: packet.will as PublishPacket | undefined, address: remoteAddress(client) });
      cb(null, true);
    },
    authenticate: (client, username, password, cb) => {
      d.admit(connects.get(client), username, password).then(
        (a) => {
          if (a.ok) {
            principals.set(client, a.principal);
            if (a.generation !== undefined) d.admittedAt.set(client, a.generation);
            return cb(null, true);
          }
          metrics.refuse(client, a.reason, { username });
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
      if (payloadBytes(packet.payload) > d.maxPayloadBytes) {
        const bytes = payloadBytes(packet.payload);
        metrics.refuse(client, 'payload_too_large', { topic: packet.topic, bytes });
        d.tellDevice(client, ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${bytes} bytes is over the limit of ${d.maxPayloadBytes}`, packet.topic);
        // Taken and dropped, not refused by closing: a persistent-session client would resend it
        // after every reconnect, for ever (FACTS.md). Acknowledged, then routed to nobody: no
        // client may subscribe to a `$` topic of ours, and `#` never matches one [MQTT-4.7.2-1].
        packet.topic = DROPPED_TOPIC;
        packet.payload = Buffer.alloc(0);
        packet.retain = false;
        return d.acks.after(client, undefined, cb);
      }
      if (conformance && principal?.role === 'resident' && packet.topic.startsWith('$')) {
        // the profile answers a test suite's `$…` publish as mosquitto does: acknowledged and
        // delivered to nobody (no client of the profile may subscribe to `$…`) [MQTT-4.7.2-1]
        packet.topic = DROPPED_TOPIC;
        packet.retain = false;
        return d.acks.after(client, undefined, cb);
      }
      if (!principal || !authorizeIn(conformance, principal, 'publish', packet.topic, { retain: packet.retain })) {
        metrics.refuse(client, 'publish_denied', { topic: packet.topic, retain: packet.retain });
        return cb(new Error('not authorized')); // [MQTT-3.3.5-2]
      }
      metrics.published(principal.role);
      const verdict = d.quota && principal.role === 'device' ? d.quota.check(client, principal.deviceId, packet.qos, payloadBytes(packet.payload), packet.topic) : undefined;
      if (verdict?.kind === 'drop') {
        // QoS 0 over the device's quota: nobody acknowledges QoS 0, so it is simply routed to
        // nobody, once the pause of the device's socket is over
        packet.topic = DROPPED_TOPIC;
        packet.payload = Buffer.alloc(0);
        packet.retain = false;
        return d.acks.after(client, verdict.until, cb);
      }
      const ingest = () => d.ingress && principal.role === 'device' && principal.kind === 'station' && parseTopic(packet.topic)?.kind === 'telemetry'
        ? d.ingress(principal.deviceId, packet.payload as Buffer, packet.topic)
        : undefined;
      // over quota, QoS 1/2 is held (its PUBACK and routing wait, aedes reads no more of the socket) and handed to ingest after
      const taken = verdict?.kind === 'hold' ? verdict.until.then(ingest) : ingest();
      d.acks.after(client, taken, cb);
    },
    authorizeSubscribe: (client, sub, cb) => {
      const principal = principals.get(client);
      if (principal && authorizeIn(conformance, principal, 'subscribe', sub.topic)) return cb(null, sub);
      metrics.refuse(client, 'subscribe_denied', { topic: sub.topic });
      cb(null, null); // SUBACK 0x80 for this filter only [MQTT-3.9.3-2]; cb(err) would disconnect
    },
  };
}

/** the client's address: its TCP or TLS socket's, or the WebSocket's underlying socket's (never a header a client can forge) */
function remoteAddress(client: Client): string | undefined {
  const c = client as unknown as { conn?: { remoteAddress?: string }; req?: { socket?: { remoteAddress?: string } } };
  return c.conn?.remoteAddress ?? c.req?.socket?.remoteAddress;
}

/** aedes keeps a client's granted filters in `subscriptions` (not in its typings) */
type WithSubscriptions = Client & { subscriptions: Record<string, unknown> };

/** The profile's delivery sieve: a resident gets of ours only what its `huewatch/` filters reach (conformance.ts). */
function residentsForward(principals: WeakMap<Client, Principal>): NonNullable<AedesOptions['authorizeForward']> {
  return (client, packet) =>
    principals.get(client)?.role !== 'resident' || forwardAllowed(packet.topic, Object.keys((client as WithSubscriptions).subscriptions)) ? packet : null;
}
