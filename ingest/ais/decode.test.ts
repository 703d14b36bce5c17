import { describe, expect, it } from 'vitest';
import { AisDecoder } from './decoder.ts';
import { compare, EVALUATED_TYPES, loadGpsdCases, normaliseOurs } from './gpsd-cases.ts';

const cases = loadGpsdCases();

describe('decoding against gpsd regression cases (test/fixtures/ais, BSD-2)', () => {
  for (const type of EVALUATED_TYPES) {
    const ofType = cases.filter((c) => c.expected.type === type);
    it(`decodes every type ${type} case (${ofType.length}) as gpsd does`, () => {
      expect(ofType.length).toBeGreaterThan(0);
      const failures: string[] = [];
      for (const c of ofType) {
        const decoder = new AisDecoder();
        const out = decoder.feed(c.sentences.join('\n'), 0);
        const bad = compare(c, out[0] && normaliseOurs(out[0].message));
        if (bad.length) failures.push(`${c.sentences[0]}: ${bad.join('; ')}`);
      }
      expect(failures).toEqual([]);
    });
  }

  it('counts the other types as unsupported and drops them, without throwing', () => {
    const others = cases.filter((c) => !(EVALUATED_TYPES as readonly number[]).includes(c.expected.type));
    const decoder = new AisDecoder();
    for (const c of others) expect(decoder.feed(c.sentences.join('\n'), 0)).toEqual([]);
    expect(decoder.counts.dropped.unsupported_type).toBe(others.reduce((n, c) => n + c.sentences.length, 0));
  });
});
