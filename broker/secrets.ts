import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Device and service secrets. Only scrypt hashes are stored (store/types.ts DeviceRecord.secretHash);
 * the format names its own parameters, `scrypt$N$r$p$saltB64$hashB64`, so the cost can be raised
 * later without breaking hashes already stored.
 */

/** N=2^14, r=8, p=1: the RFC 7914 interactive-login cost (~16 MiB, tens of ms per check). */
const DEFAULT = { N: 1 << 14, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Refuse parameters from a stored hash that would let a bad record pin the CPU or memory. */
const MAX_N = 1 << 20;
const MAX_RP = 32;

function derive(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** 32 random bytes (256 bits), base64url: safe in MQTT passwords, URLs and env files. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = DEFAULT;
  const key = await derive(secret, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r });
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** False for a wrong secret and for a malformed hash alike: callers need no second path. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return false;
  if (!Number.isInteger(r) || !Number.isInteger(p) || r < 1 || p < 1 || r > MAX_RP || p > MAX_RP) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (salt.length === 0 || expected.length < 16) return false;
  const key = await derive(secret, salt, expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return timingSafeEqual(key, expected);
}
