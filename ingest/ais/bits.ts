/**
 * The AIS 6-bit payload armour (ITU-R M.1371-5 annex 8 §3.3.7): each character carries 6 bits, most
 * significant first; `fillBits` at the end of the last fragment pad it to a character boundary.
 */

/** Character → 6-bit value: ASCII 48–87 → 0–39, 96–119 → 40–63. */
function unarmour(code: number): number {
  const v = code - 48;
  return v > 40 ? v - 8 : v;
}

/** ITU-R M.1371 table 47: the 6-bit ASCII used in names and call signs; `@` (0) means "not available". */
const SIXBIT_ASCII = '@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !"#$%&\'()*+,-./0123456789:;<=>?';

export class BitReader {
  private readonly six: Uint8Array;
  /** number of payload bits, fill bits excluded */
  readonly length: number;

  constructor(payload: string, fillBits = 0) {
    this.six = new Uint8Array(payload.length);
    for (let i = 0; i < payload.length; i++) this.six[i] = unarmour(payload.charCodeAt(i));
    this.length = payload.length * 6 - fillBits;
  }

  /** Unsigned field; bits past the end read as 0 (callers check `length` first). Fields are ≤ 30 bits. */
  uint(start: number, len: number): number {
    // Whole runs of bits within one character at a time; multiplication, not <<, past 31 bits.
    let v = 0;
    const end = start + len;
    for (let i = start; i < end; ) {
      const off = i % 6;
      const take = Math.min(6 - off, end - i);
      const six = i < this.length ? this.six[(i / 6) | 0]! : 0;
      v = v * (1 << take) + ((six >> (6 - off - take)) & ((1 << take) - 1));
      i += take;
    }
    return v;
  }

  /** Two's complement field. */
  int(start: number, len: number): number {
    const v = this.uint(start, len);
    return v >= 2 ** (len - 1) ? v - 2 ** len : v;
  }

  bool(start: number): boolean {
    return this.uint(start, 1) === 1;
  }

  /**
   * 6-bit text. `@` is "not available" and pads a short name (M.1371 table 47): the text ends at the
   * first `@`, as gpsd reads it, and trailing spaces go.
   */
  text(start: number, len: number): string {
    let s = '';
    const end = Math.min(start + len, this.length - ((this.length - start) % 6));
    for (let i = start; i + 6 <= end; i += 6) s += SIXBIT_ASCII[this.uint(i, 6)];
    const at = s.indexOf('@');
    return (at < 0 ? s : s.slice(0, at)).trimEnd();
  }
}

/** Builds payloads: the simulator's encoder, and tests that need a sentence the vectors lack. */
export class BitWriter {
  private bits: number[] = [];

  uint(value: number, len: number): this {
    for (let i = len - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  int(value: number, len: number): this {
    return this.uint(value < 0 ? value + 2 ** len : value, len);
  }

  bool(v: boolean): this {
    return this.uint(v ? 1 : 0, 1);
  }

  /** Upper-cased, unknown characters become spaces, padded with `@` to `chars` characters. */
  text(s: string, chars: number): this {
    const up = s.toUpperCase().slice(0, chars);
    for (let i = 0; i < chars; i++) {
      const c = i < up.length ? SIXBIT_ASCII.indexOf(up[i]!) : 0;
      this.uint(c < 0 ? 32 : c, 6);
    }
    return this;
  }

  get length(): number {
    return this.bits.length;
  }

  /** The armoured payload and its fill bits. */
  armour(): { payload: string; fillBits: number } {
    const fillBits = (6 - (this.bits.length % 6)) % 6;
    const bits = [...this.bits, ...new Array<number>(fillBits).fill(0)];
    let payload = '';
    for (let i = 0; i < bits.length; i += 6) {
      let v = 0;
      for (let j = 0; j < 6; j++) v = v * 2 + bits[i + j]!;
      payload += String.fromCharCode(v < 40 ? v + 48 : v + 56);
    }
    return { payload, fillBits };
  }
}
