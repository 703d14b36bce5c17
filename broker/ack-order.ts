import type { Client } from 'aedes';

export interface AckOrder {
  /** calls `cb` once `taken` (if any) and every answer before it for this client are settled */
  after(client: Client, taken: Promise<unknown> | undefined, cb: (err: Error | null) => void): void;
  /** the client's answers pending, if any */
  tail(client: Client): Promise<void> | undefined;
}

/**
 * PUBACKs go out in the order the PUBLISH packets came [MQTT-4.6.0-2], though a client's
 * telemetry waits for a group commit and a bad message is answered at once: each answer waits
 * for the client's answers before it. The chain holds one promise per client with acks pending.
 */
export function createAckOrder(): AckOrder {
  const ackTail = new WeakMap<Client, Promise<void>>();
  return {
    after(client, taken, cb) {
      const before = ackTail.get(client);
      if (!before && !taken) return cb(null);
      // a refusal waiting behind earlier answers is handled when its turn comes, not unhandled before it
      taken?.catch(() => undefined);
      const mine: Promise<void> = (before ? before.then(() => taken) : taken!).then(() => cb(null), (err: unknown) => cb(err as Error));
      ackTail.set(client, mine);
      void mine.then(() => {
        if (ackTail.get(client) === mine) ackTail.delete(client);
      });
    },
    tail: (client) => ackTail.get(client),
  };
}
