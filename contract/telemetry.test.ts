import { describe, expect, it } from 'vitest';
import { decodeTelemetry, ErrorCode, formatTs, MAX_TS_MS } from './index.ts';

const now = Date.parse('2026-11-23T03:00:00Z');
const decode = (p: unknown) => decodeTelemetry(typeof p === 'string' ? p : JSON.stringify(p), { now });

describe('decodeTelemetry', () => {
  it('decodes one reading with epoch-ms or ISO time', () => {
    expect(decode({ ts: now - 1000, seq: 7, m: { water_level: 2.31, battery_v: 12.6 } })).toEqual({
      ok: true,
      readings: [{ ts: now - 1000, seq: 7, values: { water_level: 2.31, battery_v: 12.6 } }],
    });
    expect(decode({ ts: '2026-11-23T09:59:00+07:00', m: { rainfall: 4.2 } })).toEqual({
      ok: true,
      readings: [{ ts: now - 60_000, values: { rainfall: 4.2 } }],
    });
  });

  it('stamps a reading without ts with the receive time', () => {
    expect(decode({ m: { water_level: 1 } })).toMatchObject({ ok: true, readings: [{ ts: now }] });
  });

  it('decodes a store-and-forward array in order', () => {
    const r = decode([1, 2, 3].map((i) => ({ ts: now - 3000 + i * 1000, seq: i, m: { water_level: i / 10 } })));
    expect(r.ok && r.readings.map((x) => x.seq)).toEqual([1, 2, 3]);
  });

  it('decodes SenML with base time and relative times, grouping records by time', () => {
    const t = now / 1000;
    const r = decode([
      { bn: 'urn:dev:kl-01:', bt: t - 60, n: 'water_level', u: 'm', v: 2.5 },
      { n: 'battery_v', u: 'V', v: 12.4 },
      { n: 'water_level', u: 'm', v: 2.6, t: 60 },
    ]);
    expect(r).toEqual({
      ok: true,
      readings: [
        { ts: now - 60_000, values: { water_level: 2.5, battery_v: 12.4 } },
        { ts: now, values: { water_level: 2.6 } },
      ],
    });
  });

  it('refuses SenML whose unit is not the catalogue unit', () => {
    expect(decode([{ n: 'water_level', u: 'cm', v: 250 }])).toMatchObject({ ok: false, code: ErrorCode.PAYLOAD_INVALID });
  });

  it.each([
    ['malformed JSON', '{"m":', ErrorCode.PAYLOAD_JSON],
    ['NaN', '{"m":{"water_level":NaN}}', ErrorCode.PAYLOAD_JSON],
    ['a string value', { m: { water_level: '2.3' } }, ErrorCode.PAYLOAD_INVALID],
    ['no metrics', { ts: now, m: {} }, ErrorCode.PAYLOAD_INVALID],
    ['an unknown field', { ts: now, m: { water_level: 1 }, extra: 1 }, ErrorCode.PAYLOAD_INVALID],
    ['a negative seq', { seq: -1, m: { water_level: 1 } }, ErrorCode.PAYLOAD_INVALID],
    ['an unknown metric', { m: { tide: 1 } }, ErrorCode.METRIC_UNKNOWN],
    ['a timestamp a year ahead', { ts: now + 365 * 86400_000, m: { water_level: 1 } }, ErrorCode.TS_FUTURE],
    ['a timestamp two months old', { ts: now - 60 * 86400_000, m: { water_level: 1 } }, ErrorCode.TS_TOO_OLD],
    ['a bare number', '42', ErrorCode.PAYLOAD_INVALID],
  ])('refuses %s with a stable code', (_name, payload, code) => {
    const r = decode(payload);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe(code);
    expect(!r.ok && r.problem.length).toBeGreaterThan(0);
  });

  it('names the field that is wrong', () => {
    expect(decode({ m: { water_level: 'high' } })).toMatchObject({ ok: false, problem: expect.stringMatching(/^m\.water_level: /) });
  });

  describe('bounds ts to what a Date and every store can hold', () => {
    // Each of these used to pass validation and then throw a RangeError from toISOString while
    // the refusal was built, so ingest never acknowledged and the device reconnected for ever.
    const refused = (r: ReturnType<typeof decode>, code: string, field: RegExp) => {
      expect(r).toMatchObject({ ok: false, code, problem: expect.stringMatching(field) });
    };
    const wide = (p: unknown) => decodeTelemetry(JSON.stringify(p), { now, maxFutureMs: Number.MAX_SAFE_INTEGER, maxAgeMs: Number.MAX_SAFE_INTEGER });

    it.each([
      ['9e15 (past the largest Date)', 9_000_000_000_000_000],
      ['8.64e15 + 1', 8_640_000_000_000_001],
      ['8.64e15 (the largest Date, past what InfluxDB keeps)', 8_640_000_000_000_000],
      ['MAX_TS_MS + 1', MAX_TS_MS + 1],
      ['2^53 - 1', Number.MAX_SAFE_INTEGER],
      ['1e300', 1e300],
      ['-1', -1],
    ])('refuses ts %s with HW_ERR_PAYLOAD_INVALID naming ts', (_name, ts) => {
      refused(decode({ ts, seq: 1, m: { water_level: 1 } }), ErrorCode.PAYLOAD_INVALID, /^ts: /);
      refused(wide({ ts, seq: 1, m: { water_level: 1 } }), ErrorCode.PAYLOAD_INVALID, /^ts: /);
      refused(decode([{ ts: now, m: { water_level: 1 } }, { ts, m: { water_level: 1 } }]), ErrorCode.PAYLOAD_INVALID, /^1\.ts: /);
    });

    it('accepts the largest valid ts, and refuses it as future by the clock rule without throwing', () => {
      expect(wide({ ts: MAX_TS_MS, seq: 1, m: { water_level: 1 } })).toMatchObject({ ok: true, readings: [{ ts: MAX_TS_MS }] });
      const r = decode({ ts: MAX_TS_MS, seq: 1, m: { water_level: 1 } });
      expect(r).toEqual({ ok: false, code: ErrorCode.TS_FUTURE, problem: 'ts: 2262-04-11T23:47:16.854Z is in the future' });
      expect(decode({ ts: 0, m: { water_level: 1 } })).toEqual({ ok: false, code: ErrorCode.TS_TOO_OLD, problem: 'ts: 1970-01-01T00:00:00.000Z is older than allowed' });
      expect(wide({ ts: 0, m: { water_level: 1 } })).toMatchObject({ ok: true, readings: [{ ts: 0 }] });
    });

    it.each([
      ['9999-12-31T23:59:59.999Z', ErrorCode.PAYLOAD_INVALID],
      ['2262-04-11T23:47:16.855Z', ErrorCode.PAYLOAD_INVALID],
      ['2262-04-12T06:47:16.854+07:00', ErrorCode.TS_FUTURE], // = MAX_TS_MS
      ['3000-01-01T00:00:00+07:00', ErrorCode.PAYLOAD_INVALID],
      ['0000-01-01T00:00:00Z', ErrorCode.PAYLOAD_INVALID],
      ['1677-09-21T00:12:43.146Z', ErrorCode.PAYLOAD_INVALID],
      ['1969-12-31T23:59:59.999Z', ErrorCode.PAYLOAD_INVALID],
      ['1970-01-01T00:00:00Z', ErrorCode.TS_TOO_OLD],
    ])('ISO time %s → %s, never a throw', (iso, code) => {
      const r = decode({ ts: iso, seq: 1, m: { water_level: 1 } });
      refused(r, code, /^ts: /);
    });

    it('refuses SenML times past the bound (bt + t overflowing included) naming the record', () => {
      refused(decode([{ bt: 9e12, n: 'water_level', v: 1 }]), ErrorCode.PAYLOAD_INVALID, /^0\.t: /);
      refused(decode([{ bt: 1e308, n: 'water_level', v: 1 }, { t: 1e308, n: 'water_level', v: 2 }]), ErrorCode.PAYLOAD_INVALID, /^0\.t: /);
      refused(decode([{ bt: -1e12, n: 'water_level', v: 1 }]), ErrorCode.PAYLOAD_INVALID, /^0\.t: /);
      expect(decode([{ bt: 9e9, n: 'water_level', v: 1 }])).toMatchObject({ ok: false, code: ErrorCode.TS_FUTURE });
    });

    it('formatTs never throws', () => {
      for (const v of [NaN, Infinity, -Infinity, 9e15, -9e15, 1e300, 0, MAX_TS_MS]) expect(() => formatTs(v)).not.toThrow();
      expect(formatTs(9e15)).toMatch(/^9000000000000000 /);
    });
  });
});
