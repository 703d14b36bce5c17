import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSecret, newSecret, verifySecret } from './secrets.ts';

describe('secrets', () => {
  it('makes url-safe secrets of at least 128 bits that never repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const s = newSecret();
      expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(s, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      seen.add(s);
    }
    expect(seen.size).toBe(100);
  });

  it('writes a self-describing scrypt hash with a fresh salt each time', async () => {
    const s = newSecret();
    const [a, b] = await Promise.all([hashSecret(s), hashSecret(s)]);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(s);
  });

  it('accepts the right secret and refuses a wrong one', async () => {
    const s = newSecret();
    const h = await hashSecret(s);
    expect(await verifySecret(s, h)).toBe(true);
    expect(await verifySecret(s + 'x', h)).toBe(false);
    expect(await verifySecret('', h)).toBe(false);
  });

  it('refuses malformed or abusive hashes instead of throwing', async () => {
    const h = await hashSecret('pw');
    const [, , , , salt, key] = h.split('$');
    for (const bad of [
      '',
      'plain',
      'bcrypt$10$abc',
      `scrypt$16384$8$1$${salt}`,
      `scrypt$1000$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$${2 ** 24}$8$1$${salt}$${key}`, // N too large: would pin a core
      `scrypt$16384$0$1$${salt}$${key}`,
      `scrypt$16384$8$1$$${key}`,
      `scrypt$16384$8$1$${salt}$AAAA`,
    ]) {
      expect(await verifySecret('pw', bad), bad).toBe(false);
    }
  });

  it('verifies a hash written with other scrypt parameters, so the cost can change later', async () => {
    const salt = randomBytes(16);
    const key = scryptSync('pw', salt, 32, { N: 1024, r: 4, p: 2 });
    const h = ['scrypt', 1024, 4, 2, salt.toString('base64'), key.toString('base64')].join('$');
    expect(await verifySecret('pw', h)).toBe(true);
    expect(await verifySecret('pw2', h)).toBe(false);
  });
});
