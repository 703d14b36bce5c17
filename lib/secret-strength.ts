/**
 * How guessable a secret looks, for refusing weak ones in production (platform/config.ts). An
 * estimate, not a proof: each character that does not follow from what came before is worth
 * log2 of the alphabet its classes span (lower case 26, upper case 26, digits 10, others 33).
 * A character follows when it repeats or continues a run from the one before (`aaa`, `abcd`,
 * `4321`) or lies in a three-character piece seen earlier (`passwordpassword`, `abcabc`). So
 * `aaaa…`, repeated words and keyboard-order runs score low, while 32 random bytes in base64 or
 * 16 in hex (`openssl rand -base64 32`, `openssl rand -hex 16`) score well above the bar. It
 * does not know dictionaries: a long phrase of words passes.
 */
export const MIN_SECRET_LENGTH = 32;
export const MIN_SECRET_BITS = 80;
export const MIN_DISTINCT_CHARS = 10;

function alphabetBits(chars: string[]): number {
  let size = 0;
  if (chars.some((c) => /[a-z]/.test(c))) size += 26;
  if (chars.some((c) => /[A-Z]/.test(c))) size += 26;
  if (chars.some((c) => /[0-9]/.test(c))) size += 10;
  if (chars.some((c) => !/[a-zA-Z0-9]/.test(c))) size += 33;
  return Math.log2(Math.max(size, 2));
}

export function estimateSecretBits(secret: string): number {
  const chars = [...secret];
  const follows = new Array<boolean>(chars.length).fill(false);
  for (let i = 1; i < chars.length; i++) {
    const d = chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)!;
    if (d >= -1 && d <= 1) follows[i] = true;
  }
  const seen = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) {
    const tri = chars.slice(i, i + 3).join('');
    if (seen.has(tri)) follows[i] = follows[i + 1] = follows[i + 2] = true;
    if (i >= 2) seen.add(chars.slice(i - 2, i + 1).join('')); // pieces ending before i+1: no overlap with itself
  }
  const fresh = follows.filter((f) => !f).length;
  return fresh * alphabetBits(chars);
}

/** why `secret` is too weak for production, or undefined when it is strong enough (never quotes the secret) */
export function secretWeakness(secret: string): string | undefined {
  const length = [...secret].length;
  if (length < MIN_SECRET_LENGTH) return `${length} characters, at least ${MIN_SECRET_LENGTH} needed`;
  const distinct = new Set(secret).size;
  if (distinct < MIN_DISTINCT_CHARS) return `only ${distinct} distinct characters, at least ${MIN_DISTINCT_CHARS} needed`;
  const bits = Math.floor(estimateSecretBits(secret));
  if (bits < MIN_SECRET_BITS) return `low entropy (about ${bits} bits estimated, at least ${MIN_SECRET_BITS} needed)`;
  return undefined;
}
