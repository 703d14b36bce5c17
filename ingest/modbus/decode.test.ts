import { describe, expect, it } from 'vitest';
import { decodeRaw, decodeValue, encodeRaw, encodeValue } from './decode.ts';
import { planRequests } from './plan.ts';
import { registerSpec, type RegisterSpec } from './schema.ts';

const reg = (r: Record<string, unknown>): RegisterSpec => registerSpec.parse({ name: 'x', function: 'holding', address: 0, ...r });

// libmodbus tests/unit-test.h: 123456.0 is 0x47F12000; these are its register words per order.
const FLOAT_ORDERS = [
  { byteOrder: 'big', wordOrder: 'big', words: [0x47f1, 0x2000], name: 'ABCD' },
  { byteOrder: 'big', wordOrder: 'little', words: [0x2000, 0x47f1], name: 'CDAB' },
  { byteOrder: 'little', wordOrder: 'big', words: [0xf147, 0x0020], name: 'BADC' },
  { byteOrder: 'little', wordOrder: 'little', words: [0x0020, 0xf147], name: 'DCBA' },
] as const;

describe('register decoding', () => {
  for (const o of FLOAT_ORDERS) {
    it(`reads libmodbus's float 123456.0 in ${o.name} order and writes the same words back`, () => {
      const r = reg({ type: 'float32', byteOrder: o.byteOrder, wordOrder: o.wordOrder });
      expect(decodeRaw(o.words, r)).toBe(123456);
      expect(encodeRaw(123456, r)).toEqual(o.words);
    });
  }

  it('reads 32-bit integers in all four orders', () => {
    const v = 0x12345678;
    expect(decodeRaw([0x1234, 0x5678], reg({ type: 'uint32' }))).toBe(v);
    expect(decodeRaw([0x5678, 0x1234], reg({ type: 'uint32', wordOrder: 'little' }))).toBe(v);
    expect(decodeRaw([0x3412, 0x7856], reg({ type: 'uint32', byteOrder: 'little' }))).toBe(v);
    expect(decodeRaw([0x7856, 0x3412], reg({ type: 'int32', byteOrder: 'little', wordOrder: 'little' }))).toBe(v);
    expect(decodeRaw([0xffff, 0xfffe], reg({ type: 'int32' }))).toBe(-2);
    expect(decodeRaw([0xffff, 0xfffe], reg({ type: 'uint32' }))).toBe(0xfffffffe);
  });

  it('reads signed and unsigned 16-bit registers, byte-swapped when the map says so', () => {
    expect(decodeRaw([0xff9c], reg({ type: 'int16' }))).toBe(-100);
    expect(decodeRaw([0xff9c], reg({ type: 'uint16' }))).toBe(65436);
    expect(decodeRaw([0x9cff], reg({ type: 'int16', byteOrder: 'little' }))).toBe(-100);
  });

  it('applies scale and offset without binary noise, and inverts them for writes', () => {
    const r = reg({ type: 'int16', scale: 0.01, offset: -5 });
    expect(decodeValue([123], r)).toBe(-3.77);
    expect(encodeValue(-3.77, r)).toEqual([123]);
    expect(decodeValue([0x47f1, 0x2000], reg({ type: 'float32', scale: 0.001 }))).toBe(123.456);
  });

  it('refuses values that do not fit the type', () => {
    expect(() => encodeRaw(70000, reg({ type: 'uint16' }))).toThrow(RangeError);
    expect(() => encodeRaw(-1, reg({ type: 'uint32' }))).toThrow(RangeError);
    expect(() => encodeRaw(1.5, reg({ type: 'int16' }))).toThrow(RangeError);
  });
});

describe('request planning', () => {
  const regs = [
    reg({ name: 'a', address: 0, type: 'float32' }),
    reg({ name: 'b', address: 2, type: 'float32' }),
    reg({ name: 'c', address: 8 }), // gap of 4 after b
    reg({ name: 'd', address: 40 }), // far away
    reg({ name: 'e', function: 'input', address: 0 }),
    reg({ name: 'f', function: 'coil', address: 3 }),
    reg({ name: 'g', function: 'coil', address: 90 }),
  ];

  it('joins adjacent registers and bridges small gaps into one request per block', () => {
    const plan = planRequests(regs, { maxRegistersPerRequest: 125, maxGap: 8 });
    expect(plan.map((p) => [p.function, p.address, p.count])).toEqual([
      ['coil', 3, 88],
      ['holding', 0, 9],
      ['holding', 40, 1],
      ['input', 0, 1],
    ]);
    expect(plan[1]!.points.map((p) => [p.register.name, p.index])).toEqual([['a', 0], ['b', 2], ['c', 8]]);
  });

  it('never bridges a gap larger than allowed nor exceeds the registers per request', () => {
    expect(planRequests(regs, { maxRegistersPerRequest: 125, maxGap: 0 }).filter((p) => p.function === 'holding').map((p) => [p.address, p.count])).toEqual([
      [0, 4],
      [8, 1],
      [40, 1],
    ]);
    expect(planRequests(regs, { maxRegistersPerRequest: 3, maxGap: 8 }).filter((p) => p.function === 'holding').map((p) => [p.address, p.count])).toEqual([
      [0, 2],
      [2, 2],
      [8, 1],
      [40, 1],
    ]);
  });
});
