import { generate } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { FrameGuard } from './frame-guard.ts';
import { encodeConnect, encodePublishQos0, encodeSubscribe } from './flood-load.ts';

const publish = (n: number) => encodePublishQos0('huewatch/v1/telemetry/d1', Buffer.alloc(n, 1));

describe('FrameGuard', () => {
  it('lets a stream of packets under the limit through, however it is cut', () => {
    const stream = Buffer.concat([encodeConnect('d1', 'd1', 'pw'), publish(10), publish(200), encodeSubscribe(1, 'a/#'), publish(1000)]);
    for (const cut of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const g = new FrameGuard(2000);
      for (let i = 0; i < stream.length; i += cut) {
        expect(g.scan(stream.subarray(i, i + cut))).toBe(-1);
      }
    }
  });

  it('flags an oversize packet that is not a PUBLISH as soon as its length arrives', () => {
    const big = encodeSubscribe(1, 'a/'.repeat(3000) + '#');
    const g = new FrameGuard(2000);
    expect(g.scan(publish(100))).toBe(-1);
    // only the first 3 bytes of the big packet: type + 2 length bytes, no body yet
    expect(g.scan(big.subarray(0, 3))).toBeGreaterThan(2000);
  });

  it('flags a SUBSCRIBE length claimed at 256 MiB after three of its four bytes', () => {
    const g = new FrameGuard(65_536);
    expect(g.scan(Buffer.from([0x82, 0xff, 0xff, 0xff]))).toBeGreaterThan(65_536);
  });

  it('cuts an oversize QoS 1 PUBLISH out of the stream, however it is cut, and names its topic and packet id', () => {
    const before = publish(10);
    const big = generate({ cmd: 'publish', topic: 'huewatch/v1/telemetry/d1', payload: Buffer.alloc(5000, 7), qos: 1, messageId: 4242, retain: false, dup: false });
    const after = encodeSubscribe(2, 'a/#');
    const stream = Buffer.concat([before, big, after]);
    for (const cut of [1, 2, 3, 5, 64, 1000, stream.length]) {
      const g = new FrameGuard(2000);
      const kept: Buffer[] = [];
      const dropped = [];
      for (let i = 0; i < stream.length; i += cut) {
        const f = g.filter(stream.subarray(i, i + cut));
        expect(f.fatal).toBeUndefined();
        kept.push(f.keep);
        dropped.push(...f.dropped);
      }
      expect(Buffer.concat(kept)).toEqual(Buffer.concat([before, after]));
      expect(dropped).toEqual([{ length: big.length - 3, qos: 1, packetId: 4242, topic: 'huewatch/v1/telemetry/d1' }]);
    }
  });

  it('flags a Remaining Length with a fifth continuation byte as malformed', () => {
    const g = new FrameGuard(Number.MAX_SAFE_INTEGER);
    expect(g.scan(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('accepts packets with an empty body such as PINGREQ and DISCONNECT', () => {
    const g = new FrameGuard(10);
    expect(g.scan(Buffer.from([0xc0, 0x00, 0xe0, 0x00, 0xc0, 0x00]))).toBe(-1);
  });
});
