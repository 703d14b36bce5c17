import type { Duplex } from 'node:stream';

/**
 * A byte-level bound on MQTT packet size, in front of aedes. aedes 1.2 has no packet size option
 * and mqtt-packet's parser buffers a whole packet before anyone sees it: a remaining length may
 * claim up to 256 MiB [MQTT-2.2.3], and every byte would sit in the broker's memory before
 * `authorizePublish` could look at the payload. The guard reads only each packet's fixed header
 * (type byte + Remaining Length) and skips its body, so it costs O(packets), not O(bytes).
 *
 * An oversize PUBLISH is cut out of the stream as it passes, never buffered: only its topic and
 * packet id are read, so that the broker can acknowledge and drop it. Closing the connection
 * instead would lock a device out for good: a persistent-session client resends an unacknowledged
 * message after every reconnect (FACTS.md). Any other oversize packet closes the connection.
 */

const PUBLISH = 3;

export interface DroppedPublish {
  /** the packet's Remaining Length */
  length: number;
  qos: number;
  /** absent for QoS 0 */
  packetId?: number;
  topic: string;
}

export interface Filtered {
  /** the bytes to hand on to the MQTT parser (the input itself when nothing was cut) */
  keep: Buffer;
  dropped: DroppedPublish[];
  /** an oversize packet that cannot be cut out (not a PUBLISH, or a malformed length): close */
  fatal?: number;
}

export class FrameGuard {
  private state: 'type' | 'length' | 'body' | 'cut-header' | 'cut-body' = 'type';
  private type = 0;
  private flags = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private toSkip = 0;
  /** fixed-header bytes of the last chunk, held back until the packet's length is known */
  private carry: Buffer | undefined;
  /** the start of a cut PUBLISH's variable header: topic length, topic, packet id */
  private cutHead: number[] = [];
  private cutNeed = 2;

  constructor(private readonly maxRemainingLength: number) {}

  /** Returns the offending Remaining Length (a lower bound when cut short), or -1 when all is well. */
  scan(buf: Buffer): number {
    const f = this.filter(buf);
    if (f.fatal !== undefined) return f.fatal;
    return f.dropped.length > 0 ? f.dropped[0]!.length : -1;
  }

  /**
   * Passes a chunk through: returns what to hand on. Bytes of a fixed header that a chunk cuts
   * in two are held back until the header is whole (the parser waits for whole packets anyway).
   */
  filter(buf: Buffer): Filtered {
    const dropped: DroppedPublish[] = [];
    const out: Buffer[] = [];
    const fatal = (length: number): Filtered => ({ keep: Buffer.alloc(0), dropped, fatal: length });
    let from = 0; // bytes [from, i) of this chunk are to be handed on
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'body') {
        const n = Math.min(this.toSkip, buf.length - i);
        i += n;
        this.toSkip -= n;
        if (this.toSkip === 0) this.state = 'type';
        continue;
      }
      if (this.state === 'cut-header') {
        while (i < buf.length && this.toSkip > 0 && this.cutHead.length < this.cutNeed) {
          this.cutHead.push(buf[i++]!);
          this.toSkip--;
          if (this.cutHead.length === 2) this.cutNeed = 2 + ((this.cutHead[0]! << 8) | this.cutHead[1]!) + (this.qos() > 0 ? 2 : 0);
        }
        if (this.toSkip > 0 && this.cutHead.length < this.cutNeed) continue;
        this.state = 'cut-body';
      }
      if (this.state === 'cut-body') {
        const n = Math.min(this.toSkip, buf.length - i);
        i += n;
        this.toSkip -= n;
        if (this.toSkip === 0) {
          dropped.push(this.droppedPublish());
          this.state = 'type';
          from = i;
        }
        continue;
      }
      const b = buf[i]!;
      if (this.state === 'type') {
        if (i > from) out.push(buf.subarray(from, i));
        from = i;
        this.state = 'length';
        this.type = b >> 4;
        this.flags = b & 0x0f;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        i++;
        continue;
      }
      // Remaining Length: 7 bits per byte, least significant first, at most 4 bytes [MQTT-2.2.3]
      i++;
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if ((b & 0x80) !== 0) {
        if (this.lengthBytes === 4) return fatal(Number.MAX_SAFE_INTEGER); // malformed: a fifth length byte
        // later bytes only add: a packet that cannot be cut out is refused as soon as its sum is past the limit
        if (this.length > this.maxRemainingLength && this.type !== PUBLISH) return fatal(this.length);
        continue;
      }
      this.toSkip = this.length;
      if (this.length > this.maxRemainingLength) {
        if (this.type !== PUBLISH) return fatal(this.length);
        // cut out: its header bytes of this chunk and those held back from the last one go nowhere
        this.carry = undefined;
        from = i;
        this.state = 'cut-header';
        this.cutHead = [];
        this.cutNeed = 2;
        continue;
      }
      if (this.carry) {
        out.push(this.carry);
        this.carry = undefined;
      }
      this.state = this.length === 0 ? 'type' : 'body';
    }
    if (this.state === 'length') {
      // a fixed header cut in two by the chunk: hold its bytes back until its length is known
      const tail = buf.subarray(from);
      this.carry = this.carry ? Buffer.concat([this.carry, tail]) : Buffer.from(tail);
    } else if (this.state !== 'cut-header' && this.state !== 'cut-body' && from < buf.length) {
      out.push(buf.subarray(from));
    }
    const keep = out.length === 1 ? out[0]! : Buffer.concat(out);
    return { keep, dropped };
  }

  private qos(): number {
    return (this.flags >> 1) & 0x03;
  }

  private droppedPublish(): DroppedPublish {
    const h = this.cutHead;
    const topicLength = h.length >= 2 ? (h[0]! << 8) | h[1]! : 0;
    const topic = Buffer.from(h.slice(2, 2 + topicLength)).toString('utf8');
    const idAt = 2 + topicLength;
    const qos = this.qos();
    return {
      length: this.length,
      qos,
      topic,
      ...(qos > 0 && h.length >= idAt + 2 ? { packetId: (h[idAt]! << 8) | h[idAt + 1]! } : {}),
    };
  }
}

/**
 * Puts a FrameGuard on everything aedes reads from `stream` (aedes pulls with `conn.read()` on
 * 'readable'). An oversize PUBLISH is cut out and reported to `onDropped` (the broker acknowledges
 * it there); any other oversize packet destroys the connection before its bytes reach the parser.
 */
export function guardReads(stream: Duplex, maxRemainingLength: number, onTooLarge: (length: number) => void, onDropped?: (p: DroppedPublish) => void): void {
  const guard = new FrameGuard(maxRemainingLength);
  const read = stream.read.bind(stream);
  stream.read = (size?: number) => {
    for (;;) {
      const chunk: unknown = read(size);
      if (!Buffer.isBuffer(chunk)) return chunk;
      const f = guard.filter(chunk);
      if (f.fatal !== undefined) {
        onTooLarge(f.fatal);
        stream.destroy();
        return null;
      }
      for (const d of f.dropped) {
        onTooLarge(d.length);
        onDropped?.(d);
      }
      // a chunk wholly cut out: read on, aedes stops reading at the first null
      if (f.keep.length > 0) return f.keep;
    }
  };
}
