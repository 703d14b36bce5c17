import type { AedesOptions, Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { ErrorCode } from '../contract/errors.ts';
import { parseTopic } from '../contract/topics.ts';
import { authorize, type Principal } from './acl.ts';
import type { AckOrder } from './ack-order.ts';
import { CONNACK, connackError, type Admission, type ConnectInfo } from './admission.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { TellDevice } from './device-errors.ts';
import { payloadBytes } from './limits.ts';

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
}

/** aedes' callback hooks, wrapped once here: CONNECT admission, and the ACL on publish and subscribe. */
export function aedesHooks(d: HookDeps): Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  const connects = new WeakMap<Client, ConnectInfo>();
  const { principals, metrics, log } = d;
  return {
    preConnect: (client, packet, cb) => {
      connects.set(client, { clientId: packet.clientId, will: packet.will as PublishPacket | undefined });
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
      if (!principal || !authorize(principal, 'publish', packet.topic, { retain: packet.retain })) {
        metrics.refuse(client, 'publish_denied', { topic: packet.topic, retain: packet.retain });
        return cb(new Error('not authorized')); // [MQTT-3.3.5-2]
      }
      metrics.published(principal.role);
      const taken = d.ingress && principal.role === 'device' && principal.kind === 'station' && parseTopic(packet.topic)?.kind === 'telemetry'
        ? d.ingress(principal.deviceId, packet.payload as Buffer, packet.topic)
        : undefined;
      d.acks.after(client, taken, cb);
    },
    authorizeSubscribe: (client, sub, cb) => {
      const principal = principals.get(client);
      if (principal && authorize(principal, 'subscribe', sub.topic)) return cb(null, sub);
      metrics.refuse(client, 'subscribe_denied', { topic: sub.topic });
      cb(null, null); // SUBACK 0x80 for this filter only [MQTT-3.9.3-2]; cb(err) would disconnect
    },
  };
}
