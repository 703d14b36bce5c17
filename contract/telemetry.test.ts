import { describe, expect, it } from 'vitest';
import { decodeTelemetry, ErrorCode } from './index.ts';

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
});
