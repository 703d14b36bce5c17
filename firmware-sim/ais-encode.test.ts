import { describe, expect, it } from 'vitest';
import { AisDecoder } from '../ingest/ais/decoder.ts';
import { encodeType1, encodeType18, encodeType24, encodeType5, toSentences } from './ais-encode.ts';

const decode = (lines: string[]) => new AisDecoder().feed(lines.join('\n'), 0).map((d) => d.message);

describe('AIS encoder of the simulator, read back by the decoder', () => {
  it('round-trips class A and class B positions', () => {
    const p = { mmsi: 574001230, lat: 16.9876, lon: 108.1234, sog: 7.4, cog: 45.5, heading: 44, second: 12 };
    expect(decode(toSentences(encodeType1(p)))[0]).toMatchObject({ type: 1, ...p, lat: expect.closeTo(p.lat, 5), lon: expect.closeTo(p.lon, 5) });
    expect(decode(toSentences(encodeType18(p)))[0]).toMatchObject({ type: 18, mmsi: p.mmsi, sog: 7.4, cog: 45.5, heading: 44 });
  });

  it('sends missing values as "not available", which decode as absent', () => {
    const [m] = decode(toSentences(encodeType1({ mmsi: 574001230 })));
    expect(m).toMatchObject({ type: 1, mmsi: 574001230 });
    expect(m && 'lat' in m ? m.lat : undefined).toBeUndefined();
  });

  it('splits a type 5 into two fragments and names, call signs and lengths come back', () => {
    const s = { mmsi: 574004560, name: 'HAI DUONG 27', callsign: 'XVHD7', lengthM: 18, destination: 'THUAN AN' };
    const lines = toSentences(encodeType5(s), { seqId: 3 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^!AIVDM,2,1,3,A,/);
    expect(decode(lines)[0]).toMatchObject({ type: 5, shipname: 'HAI DUONG 27', callsign: 'XVHD7', destination: 'THUAN AN', dimensions: { toBow: 11, toStern: 7 } });
    const [a, b] = encodeType24(s);
    expect(decode([...toSentences(a), ...toSentences(b)])).toMatchObject([{ type: 24, part: 'A', shipname: 'HAI DUONG 27' }, { type: 24, part: 'B', callsign: 'XVHD7', shiptype: 30 }]);
  });
});
