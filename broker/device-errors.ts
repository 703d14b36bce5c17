import type { Aedes, Client, PublishPacket } from 'aedes';
import { deviceErrorPayload, type ErrorCode } from '../contract/errors.ts';
import { topics } from '../contract/topics.ts';
import type { Principal } from './acl.ts';

export type TellDevice = (client: Client | null, code: ErrorCode, problem: string, topic: string) => void;

/**
 * Tells a device why its message was dropped, on its errors topic; other clients are not told.
 * At most one message a second per client: a flood of bad input is no flood of errors.
 */
export function createDeviceErrors(aedes: Aedes, principalOf: (client: Client) => Principal | undefined): TellDevice {
  const lastTold = new WeakMap<Client, number>();
  return (client, code, problem, topic) => {
    const principal = client && principalOf(client);
    if (!client || principal?.role !== 'device') return;
    const now = Date.now();
    if (now - (lastTold.get(client) ?? 0) < 1_000) return;
    lastTold.set(client, now);
    const payload = Buffer.from(deviceErrorPayload(code, problem, topic, now));
    aedes.publish({ cmd: 'publish', topic: topics.deviceErrors(principal.deviceId), payload, qos: 0, retain: false, dup: false } as PublishPacket, () => undefined);
  };
}
