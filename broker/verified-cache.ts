import { createHmac, randomBytes } from 'node:crypto';

/**
 * Secrets already checked against a stored hash, remembered by an HMAC (key made at start, never
 * stored) of the hash and the secret: a device reconnecting with its right secret costs one
 * HMAC, not one scrypt, so it never queues behind guessers. The entry names the stored hash,
 * so a rotated secret (a new hash) misses at once; a disabled or removed device is refused from
 * its record, which admission reads on every CONNECT. Bounded: past `max`, the oldest goes.
 * Only HMACs are kept, never a secret.
 */
export interface VerifiedCache {
  has(secretHash: string, secret: string): boolean;
  add(secretHash: string, secret: string): void;
}

export function createVerifiedCache(max = 100_000): VerifiedCache {
  const key = randomBytes(32);
  const seen = new Set<string>();
  const mac = (secretHash: string, secret: string) => createHmac('sha256', key).update(secretHash).update('\0').update(secret).digest('base64');
  return {
    has: (h, s) => seen.has(mac(h, s)),
    add(h, s) {
      const m = mac(h, s);
      seen.delete(m);
      if (seen.size >= max) {
        const oldest = seen.values().next().value;
        if (oldest !== undefined) seen.delete(oldest);
      }
      seen.add(m);
    },
  };
}
