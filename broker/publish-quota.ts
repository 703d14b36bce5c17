import type { Client } from 'aedes';
import { Counter, type Registry } from 'prom-client';
import { ErrorCode } from '../contract/errors.ts';
import type { TellDevice } from './device-errors.ts';
import { createDeviceQuota, type DeviceQuotaLimits, type QuotaReason } from './device-quota.ts';

/** What the publish hook does with a device's message under its quota. */
export type QuotaVerdict =
  /** within quota: on at once */
  | { kind: 'pass' }
  /**
   * QoS 0 over quota: acknowledged by nobody, routed to nobody, counted; handled only once
   * `until` resolves, so aedes reads no more of the device's socket meanwhile (QOS0_PAUSE_MS)
   */
  | { kind: 'drop'; reason: QuotaReason; until: Promise<void> }
  /** QoS 1/2 over quota: held until `until` resolves; its PUBACK and its routing wait, and aedes reads no more of the socket meanwhile */
  | { kind: 'hold'; reason: QuotaReason; until: Promise<void> };

export interface PublishQuota {
  check(client: Client, deviceId: string, qos: number, bytes: number, topic: string): QuotaVerdict;
  /** how many devices have a bucket in memory (for tests and the README's bound) */
  readonly tracked: number;
}

/**
 * How long a device's socket goes unread after a QoS 0 message over its quota. Dropping alone
 * still costs the broker the parsing of every packet a flooder sends (50 flooders kept the
 * event loop busy enough to hold a good device's alert for 2.6 s); not reading its socket for a
 * second lets TCP push back instead, and its next messages wait in its own buffers, not ours.
 */
export const QOS0_PAUSE_MS = 1000;

/** aedes refreshes a client's keepalive timer only when it parses a packet (lib/handlers/index.js) */
type WithKeepalive = Client & { _keepaliveTimer?: { refresh(): void } | null; closed?: boolean };

/**
 * The per-device quota at the publish hook (device-quota.ts for the buckets). Over quota:
 *  - QoS 0 is dropped: the device said it can lose it, and dropping costs nothing;
 *  - QoS 1 and 2 are slowed, not dropped: the message is held until its tokens are there, and
 *    as aedes reads a client's next socket chunk only once every packet of the last one is
 *    answered, holding it pauses that device's socket: TCP pushes back on the device, the
 *    broker buffers at most one read chunk of it (broker/README.md "Memory bound").
 *    A dropped QoS 0 message also pauses the socket, for QOS0_PAUSE_MS (one pause per device
 *    at a time, shared by every message of the read chunk).
 * Either way the device reads `HW_ERR_RATE_LIMITED` on its errors topic (at most once a second,
 * device-errors.ts), and `huewatch_broker_quota_total{reason,action}` counts each message.
 */
export function createPublishQuota(opts: { limits: DeviceQuotaLimits; metrics: Registry; tellDevice: TellDevice; now?: () => number }): PublishQuota {
  const quota = createDeviceQuota(opts.limits);
  const now = opts.now ?? Date.now;
  const { msgsPerS, bytesPerS } = opts.limits;
  const counted = new Counter({
    name: 'huewatch_broker_quota_total',
    help: "Devices' messages over their publish quota, by the bucket that ran dry (msgs, bytes) and what was done (dropped: QoS 0; slowed: QoS 1/2 held back)",
    labelNames: ['reason', 'action'],
    registers: [opts.metrics],
  });
  const heldSeconds = new Counter({
    name: 'huewatch_broker_quota_held_seconds_total',
    help: "Seconds devices' QoS 1/2 messages were held back by their publish quota, summed",
    registers: [opts.metrics],
  });
  const limitOf = (reason: QuotaReason) => (reason === 'msgs' ? `${msgsPerS} messages/s` : `${bytesPerS} bytes/s`);
  const paused = new WeakMap<Client, Promise<void>>();
  /** the device's socket goes unread until it resolves (aedes reads on once its chunk is handled) */
  const pause = (client: Client): Promise<void> => {
    let p = paused.get(client);
    if (!p) {
      p = new Promise<void>((resolve) => setTimeout(() => {
        paused.delete(client);
        // our pause, not the device's silence: no keepalive timeout for it
        (client as WithKeepalive)._keepaliveTimer?.refresh();
        resolve();
      }, QOS0_PAUSE_MS));
      paused.set(client, p);
    }
    return p;
  };

  return {
    check(client, deviceId, qos, bytes, topic) {
      if (qos === 0) {
        const reason = quota.tryTake(deviceId, bytes, now());
        if (!reason) return { kind: 'pass' };
        counted.inc({ reason, action: 'dropped' });
        opts.tellDevice(client, ErrorCode.RATE_LIMITED, `over the publish quota of ${limitOf(reason)}: QoS 0 messages dropped`, topic);
        return { kind: 'drop', reason, until: pause(client) };
      }
      const { waitMs, reason } = quota.reserve(deviceId, bytes, now());
      if (!reason) return { kind: 'pass' };
      counted.inc({ reason, action: 'slowed' });
      heldSeconds.inc(waitMs / 1000);
      opts.tellDevice(client, ErrorCode.RATE_LIMITED, `over the publish quota of ${limitOf(reason)}: QoS ${qos} messages slowed (acknowledged later)`, topic);
      const until = new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          // a device gone meanwhile gets no PUBACK: its message is not routed nor stored (it resends it)
          if ((client as WithKeepalive).closed) return reject(new Error('connection closed while held by the publish quota'));
          // the device is alive and sending: it is our hold, not its silence, that stops aedes
          // from parsing its packets, so a long hold must not end in a keepalive timeout
          (client as WithKeepalive)._keepaliveTimer?.refresh();
          resolve();
        }, waitMs);
      });
      return { kind: 'hold', reason, until };
    },
    get tracked() {
      return quota.tracked;
    },
  };
}
