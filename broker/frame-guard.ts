import type { Duplex } from 'node:stream';

/**
 * A byte-level bound on MQTT packet size, in front of aedes. aedes 1.2 has no packet size option
 * and mqtt-packet's parser buffers a whole packet before anyone sees it: a remaining length may
 * claim up to 256 MiB [MQTT-2.2.3], and every byte would sit in the broker's memory before
 * `authorizePublish` could look at the payload. The guard reads only each packet's fixed header
 * (type byte + Remaining Length) and skips its body, so it costs O(packets), not O(bytes), and
 * refuses an oversize packet as soon as its length field arrives.
 */
export class FrameGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private toSkip = 0;

  constructor(private readonly maxRemainingLength: number) {}

  /** Returns the offending Remaining Length (a lower bound when cut short), or -1 when all is well. */
  scan(buf: Buffer): number {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'body') {
        const n = Math.min(this.toSkip, buf.length - i);
        i += n;
        this.toSkip -= n;
        if (this.toSkip === 0) this.state = 'type';
        continue;
      }
      const b = buf[i++]!;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      // Remaining Length: 7 bits per byte, least significant first, at most 4 bytes [MQTT-2.2.3]
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      // later bytes only add, so a partial sum past the limit is already too large
      if (this.length > this.maxRemainingLength) return this.length;
      if ((b & 0x80) === 0) {
        this.toSkip = this.length;
        this.state = this.length === 0 ? 'type' : 'body';
      } else if (this.lengthBytes === 4) {
        return Number.MAX_SAFE_INTEGER; // malformed: a fifth length byte
      }
    }
    return -1;
  }
}

/**
 * Puts a FrameGuard on everything aedes reads from `stream` (aedes pulls with `conn.read()` on
 * 'readable'). An oversize packet destroys the connection before its bytes reach the parser.
 */
export function guardReads(stream: Duplex, maxRemainingLength: number, onTooLarge: (length: number) => void): void {
  const guard = new FrameGuard(maxRemainingLength);
  const read = stream.read.bind(stream);
  stream.read = (size?: number) => {
    const chunk: unknown = read(size);
    if (Buffer.isBuffer(chunk)) {
      const bad = guard.scan(chunk);
      if (bad >= 0) {
        onTooLarge(bad);
        stream.destroy();
        return null;
      }
    }
    return chunk;
  };
}
