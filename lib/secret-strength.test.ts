import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { estimateSecretBits, secretWeakness } from './secret-strength.ts';

describe('secret strength', () => {
  it('refuses short, repetitive, sequential and padded secrets, saying why', () => {
    expect(secretWeakness('aaaaaaaaaaaaaaaa')).toBe('16 characters, at least 32 needed');
    expect(secretWeakness('a'.repeat(64))).toMatch(/only 1 distinct/);
    expect(secretWeakness('abcabcabcabcabcabcabcabcabcabcabcabc')).toMatch(/only 3 distinct/);
    expect(secretWeakness('abcdefghijklmnopqrstuvwxyz0123456789')).toMatch(/low entropy/);
    expect(secretWeakness('passwordpasswordpasswordpassword1')).toMatch(/only 8 distinct/);
    expect(secretWeakness('Password1Password1Password1Password1')).toMatch(/only 8 distinct/);
    expect(secretWeakness('Tr0ub4dor&3!Tr0ub4dor&3!Tr0ub4dor&3!')).toMatch(/low entropy/);
    expect(secretWeakness('qwertyuiop-qwertyuiop-qwertyuiop-123')).toMatch(/low entropy/);
  });

  it('takes what `openssl rand` and newSecret make', () => {
    for (let i = 0; i < 200; i++) {
      expect(secretWeakness(randomBytes(32).toString('base64url'))).toBeUndefined();
      expect(secretWeakness(randomBytes(32).toString('hex'))).toBeUndefined();
    }
    expect(secretWeakness(execFileSync('openssl', ['rand', '-base64', '32'], { encoding: 'utf8' }).trim())).toBeUndefined();
    expect(secretWeakness(execFileSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' }).trim())).toBeUndefined();
  });

  it('scores random text far above repeated text of the same length', () => {
    expect(estimateSecretBits(randomBytes(32).toString('base64url'))).toBeGreaterThan(150);
    expect(estimateSecretBits('ab'.repeat(22))).toBeLessThan(10);
  });
});
