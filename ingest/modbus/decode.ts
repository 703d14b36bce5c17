import type { DataType, Order, RegisterSpec } from './schema.ts';
import { widthOf } from './schema.ts';

/**
 * Register words ⇄ values. Pure. Modbus sends each 16-bit register big-endian (Modbus Application
 * Protocol V1.1b3 §4.2) but says nothing of 32-bit values, so vendors differ: with bytes A (most
 * significant) … D, `byteOrder`/`wordOrder` big/big is ABCD, big/little CDAB ("word swap", common
 * in PLCs), little/big BADC, little/little DCBA — the four orders libmodbus's unit tests use.
 */

export type RawLayout = Pick<RegisterSpec, 'type' | 'byteOrder' | 'wordOrder'>;
export type ValueLayout = RawLayout & Pick<RegisterSpec, 'scale' | 'offset'>;

/** Bytes A..D (most significant first) → the register words as they sit on the wire. */
function toWords(bytes: Uint8Array, byteOrder: Order, wordOrder: Order): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    const hi = bytes[i]!;
    const lo = bytes[i + 1]!;
    words.push(byteOrder === 'big' ? (hi << 8) | lo : (lo << 8) | hi);
  }
  return wordOrder === 'big' ? words : words.reverse();
}

function fromWords(words: readonly number[], byteOrder: Order, wordOrder: Order): Uint8Array {
  const ordered = wordOrder === 'big' ? words : [...words].reverse();
  const bytes = new Uint8Array(ordered.length * 2);
  ordered.forEach((w, i) => {
    const hi = (w >> 8) & 0xff;
    const lo = w & 0xff;
    bytes[2 * i] = byteOrder === 'big' ? hi : lo;
    bytes[2 * i + 1] = byteOrder === 'big' ? lo : hi;
  });
  return bytes;
}

/** The raw number held in `words` (exactly `widthOf(type)` of them), before scale and offset. */
export function decodeRaw(words: readonly number[], layout: RawLayout): number {
  if (layout.type === 'bool') return words[0] ? 1 : 0;
  const width = widthOf(layout.type);
  if (words.length !== width) throw new RangeError(`${layout.type} needs ${width} register(s), got ${words.length}`);
  const view = new DataView(fromWords(words, layout.byteOrder, layout.wordOrder).buffer);
  switch (layout.type) {
    case 'int16':
      return view.getInt16(0);
    case 'uint16':
      return view.getUint16(0);
    case 'int32':
      return view.getInt32(0);
    case 'uint32':
      return view.getUint32(0);
    case 'float32':
      return view.getFloat32(0);
  }
}

/** Words for a raw number; throws RangeError when it does not fit the type. */
export function encodeRaw(raw: number, layout: RawLayout): number[] {
  if (layout.type === 'bool') return [raw ? 1 : 0];
  const bytes = new Uint8Array(widthOf(layout.type) * 2);
  const view = new DataView(bytes.buffer);
  const int = (min: number, max: number) => {
    if (!Number.isInteger(raw) || raw < min || raw > max) throw new RangeError(`${raw} does not fit ${layout.type}`);
  };
  switch (layout.type) {
    case 'int16':
      int(-0x8000, 0x7fff);
      view.setInt16(0, raw);
      break;
    case 'uint16':
      int(0, 0xffff);
      view.setUint16(0, raw);
      break;
    case 'int32':
      int(-0x80000000, 0x7fffffff);
      view.setInt32(0, raw);
      break;
    case 'uint32':
      int(0, 0xffffffff);
      view.setUint32(0, raw);
      break;
    case 'float32':
      if (!Number.isFinite(raw)) throw new RangeError(`${raw} is not a finite float32`);
      view.setFloat32(0, raw);
      break;
  }
  return toWords(bytes, layout.byteOrder, layout.wordOrder);
}

/** Engineering value: raw × scale + offset. float32 is rounded to 7 significant digits (its precision). */
export function decodeValue(words: readonly number[], layout: ValueLayout): number {
  const raw = decodeRaw(words, layout);
  const value = raw * layout.scale + layout.offset;
  return layout.type === 'float32' ? Number(value.toPrecision(7)) : roundScaled(value, layout.scale);
}

/** Inverse of decodeValue: integer types round to the nearest step of `scale`. */
export function encodeValue(value: number, layout: ValueLayout): number[] {
  const raw = (value - layout.offset) / layout.scale;
  return encodeRaw(layout.type === 'float32' || layout.type === 'bool' ? raw : Math.round(raw), layout);
}

/** 123 × 0.01 is 1.2300000000000002 in binary; keep the decimals the scale has. */
function roundScaled(value: number, scale: number): number {
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(Math.abs(scale))) + 1));
  return Number(value.toFixed(decimals));
}

export type { DataType };
