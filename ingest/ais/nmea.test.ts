import { describe, expect, it } from 'vitest';
import { AisDecoder, createAisTransform, type DecodedAis } from './decoder.ts';
import { BitWriter } from './bits.ts';
import { decodePayload } from './messages.ts';
import { formatSentence, parseSentence } from './nmea.ts';

const TYPE1 = '!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A';
// gpsd case: type 5 in two fragments (sequence id 1, channel A)
const T5 = ['!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C', '!AIVDM,2,2,1,A,88888888880,2*25'];

describe('NMEA framing', () => {
  it('accepts a good sentence and a tag block before it', () => {
    expect(parseSentence(TYPE1).ok).toBe(true);
    expect(parseSentence('\\s:rcv-hue,c:1700000000*00\\' + TYPE1).ok).toBe(true);
  });

  it('rejects a bad checksum, a truncated sentence and garbage with distinct reasons', () => {
    expect(parseSentence(TYPE1.replace('*4A', '*4B'))).toEqual({ ok: false, reason: 'checksum' });
    expect(parseSentence(TYPE1.replace('15RT', '15RU'))).toEqual({ ok: false, reason: 'checksum' });
    expect(parseSentence(TYPE1.slice(0, 30))).toEqual({ ok: false, reason: 'truncated' });
    expect(parseSentence('hello world')).toEqual({ ok: false, reason: 'garbage' });
    expect(parseSentence('$GPGGA,1,2*' + '00')).toMatchObject({ ok: false });
    expect(parseSentence(formatSentence({ count: 1, number: 1, seqId: '', channel: 'A', payload: 'abc{', fillBits: 0 }))).toEqual({ ok: false, reason: 'garbage' });
  });

  it('counts every dropped line by reason and keeps decoding the good ones', () => {
    const d = new AisDecoder();
    const text = [TYPE1.replace('*4A', '*00'), 'garbage \u0000\u0001', TYPE1.slice(0, 20), TYPE1, ''].join('\r\n');
    const out = d.feed(text, 0);
    expect(out.map((o) => o.message.mmsi)).toEqual([371798000]);
    expect(d.counts.dropped).toMatchObject({ checksum: 1, garbage: 1, truncated: 1 });
    expect(d.counts.sentences).toBe(4);
  });
});

describe('multipart reassembly', () => {
  it('joins two fragments sent in two messages', () => {
    const d = new AisDecoder();
    expect(d.feed(T5[0]!, 0)).toEqual([]);
    expect(d.pendingFragments).toBe(1);
    const [m] = d.feed(T5[1]!, 100);
    expect(m?.message).toMatchObject({ type: 5, mmsi: 351759000, shipname: 'EVER DIADEM', callsign: '3FOF8', destination: 'NEW YORK' });
    expect(m?.sentences).toEqual(T5);
    expect(d.pendingFragments).toBe(0);
  });

  it('keeps interleaved messages apart by channel and sequence id', () => {
    const other = T5.map((s) => {
      const [, body] = /^!(.*)\*/.exec(s)!;
      return formatSentence({ ...fieldsOf(body!), seqId: '2', channel: 'B' });
    });
    const d = new AisDecoder();
    const out = d.feed([T5[0], other[0], T5[1], other[1]].join('\n'), 0);
    expect(out.map((o) => `${o.channel}:${o.message.type}`)).toEqual(['A:5', 'B:5']);
  });

  it('keeps fragments of different receivers apart', () => {
    const d = new AisDecoder();
    expect(d.feed(T5[0]!, 0, 'rx1')).toEqual([]);
    expect(d.feed(T5[1]!, 0, 'rx2')).toEqual([]);
    expect(d.counts.dropped.fragment_orphan).toBe(1);
  });

  it('drops a fragment whose message never completes, after the timeout', () => {
    const d = new AisDecoder({ fragmentTimeoutMs: 1000 });
    d.feed(T5[0]!, 0);
    expect(d.feed(T5[1]!, 1001)).toEqual([]);
    expect(d.counts.dropped.fragment_timeout).toBe(1);
    expect(d.counts.dropped.fragment_orphan).toBe(1);
    expect(d.pendingFragments).toBe(0);
  });

  it('bounds the fragments pending: the oldest is evicted', () => {
    const d = new AisDecoder({ maxPendingFragments: 4 });
    for (let i = 0; i < 10; i++) d.feed(T5[0]!, 0, `rx${i}`);
    expect(d.pendingFragments).toBe(4);
    expect(d.counts.dropped.fragment_evicted).toBe(6);
    expect(d.feed(T5[1]!, 0, 'rx9')).toHaveLength(1);
  });

  it('drops a second fragment that arrives alone, and a restarted message supersedes the old one', () => {
    const d = new AisDecoder();
    expect(d.feed(T5[1]!, 0)).toEqual([]);
    d.feed(T5[0]!, 0);
    d.feed(T5[0]!, 0);
    expect(d.counts.dropped).toMatchObject({ fragment_orphan: 1, fragment_superseded: 1 });
    expect(d.feed(T5[1]!, 0)).toHaveLength(1);
  });

  it('works as a stream transform with lines split across chunks', async () => {
    const t = createAisTransform({ clock: { now: () => 0 } });
    const got: DecodedAis[] = [];
    t.on('data', (d: DecodedAis) => got.push(d));
    const text = `${T5[0]}\n${T5[1]}\n${TYPE1}\n`;
    for (let i = 0; i < text.length; i += 17) t.write(text.slice(i, i + 17));
    t.end();
    await new Promise((r) => t.on('end', r));
    expect(got.map((g) => g.message.type)).toEqual([5, 1]);
  });
});

describe('not-available values', () => {
  const position = (lon: number, lat: number, sog: number, cog: number, heading: number) => {
    const w = new BitWriter().uint(1, 6).uint(0, 2).uint(574123456, 30).uint(0, 4).int(-128, 8).uint(sog, 10).bool(false);
    w.int(lon, 28).int(lat, 27).uint(cog, 12).uint(heading, 9).uint(60, 6).uint(0, 2).uint(0, 3).bool(false).uint(0, 19);
    const { payload, fillBits } = w.armour();
    return decodePayload(payload, fillBits);
  };

  it('reads lon 181, lat 91, SOG 102.3, COG 360 and heading 511 as absent', () => {
    const r = position(181 * 600_000, 91 * 600_000, 1023, 3600, 511);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message).toMatchObject({ type: 1, mmsi: 574123456 });
    for (const k of ['lat', 'lon', 'sog', 'cog', 'heading', 'second', 'rot'] as const) expect((r.message as unknown as Record<string, unknown>)[k]).toBeUndefined();
  });

  it('reads real values next to them', () => {
    const r = position(Math.round(107.62 * 600_000), Math.round(16.562 * 600_000), 1022, 3599, 359);
    expect(r.ok && r.message).toMatchObject({ lon: 107.62, lat: 16.562, sog: 102.2, cog: 359.9, heading: 359 });
  });
});

function fieldsOf(body: string) {
  const [formatter, count, number, seqId, channel, payload, fill] = body.split(',');
  return { formatter: formatter!, count: Number(count), number: Number(number), seqId: seqId!, channel: channel!, payload: payload!, fillBits: Number(fill) };
}
