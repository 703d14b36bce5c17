import { Transform } from 'node:stream';
import { decodePayload, type AisMessage } from './messages.ts';
import { parseSentence, type SentenceReject } from './nmea.ts';
import { Reassembler, type FragmentDrop } from './reassemble.ts';
import type { MessageReject } from './messages.ts';

/**
 * Text in (one or more NMEA lines, as an AIS receiver publishes them), decoded messages out.
 * Every rejected line or fragment is counted by reason and dropped; nothing throws.
 */

export type AisDropReason = SentenceReject | MessageReject | FragmentDrop;
export const AIS_DROP_REASONS: readonly AisDropReason[] = [
  'checksum', 'truncated', 'garbage', 'not_ais', 'unsupported_type', 'too_short',
  'fragment_timeout', 'fragment_evicted', 'fragment_orphan', 'fragment_superseded',
];

export interface DecodedAis {
  message: AisMessage;
  channel: string;
  /** `!AIVDO`: the receiver's own ship */
  own: boolean;
  sentences: string[];
}

export interface AisDecoderOptions {
  fragmentTimeoutMs?: number;
  maxPendingFragments?: number;
  /** called once per dropped sentence (n > 1 when a multipart slot is dropped whole) */
  onDrop?(reason: AisDropReason, n: number): void;
}

/** A line longer than this is garbage: it is not split further. */
const MAX_TEXT_LINES = 10_000;

export class AisDecoder {
  readonly counts = { sentences: 0, messages: 0, dropped: Object.fromEntries(AIS_DROP_REASONS.map((r) => [r, 0])) as Record<AisDropReason, number> };
  private readonly reassembler: Reassembler;

  constructor(private readonly opts: AisDecoderOptions = {}) {
    this.reassembler = new Reassembler({
      timeoutMs: opts.fragmentTimeoutMs,
      maxPending: opts.maxPendingFragments,
      onDrop: (r, n) => this.drop(r, n),
    });
  }

  private drop(reason: AisDropReason, n = 1): void {
    this.counts.dropped[reason] += n;
    this.opts.onDrop?.(reason, n);
  }

  get pendingFragments(): number {
    return this.reassembler.pending;
  }

  expire(now: number): void {
    this.reassembler.expire(now);
  }

  /** Decodes every line of `text`; `source` separates the fragment slots of different receivers. */
  feed(text: string, now: number, source = ''): DecodedAis[] {
    const out: DecodedAis[] = [];
    const lines = text.split(/\r?\n/, MAX_TEXT_LINES);
    for (const line of lines) {
      if (line.trim().length === 0) continue;
      this.counts.sentences++;
      const parsed = parseSentence(line);
      if (!parsed.ok) {
        this.drop(parsed.reason);
        continue;
      }
      const whole = this.reassembler.push(parsed.sentence, now, source);
      if (!whole) continue;
      const decoded = decodePayload(whole.payload, whole.fillBits);
      if (!decoded.ok) {
        this.drop(decoded.reason, whole.sentences.length);
        continue;
      }
      this.counts.messages++;
      out.push({ message: decoded.message, channel: whole.channel, own: whole.own, sentences: whole.sentences });
    }
    return out;
  }
}

/**
 * The decoder as a stream transform (Signal K style): NMEA text chunks in, `DecodedAis` objects out.
 * Chunks may split lines anywhere; a partial last line waits for the next chunk.
 */
export function createAisTransform(opts: AisDecoderOptions & { clock?: { now(): number } } = {}): Transform & { decoder: AisDecoder } {
  const decoder = new AisDecoder(opts);
  const clock = opts.clock ?? Date;
  let carry = '';
  const t = new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer | string, _enc, cb) {
      const text = carry + chunk.toString();
      const cut = text.lastIndexOf('\n');
      carry = cut < 0 ? text : text.slice(cut + 1);
      if (carry.length > 4096) carry = ''; // no newline for this long: garbage, do not buffer it
      if (cut >= 0) for (const d of decoder.feed(text.slice(0, cut), clock.now())) this.push(d);
      cb();
    },
    flush(cb) {
      for (const d of decoder.feed(carry, clock.now())) this.push(d);
      cb();
    },
  });
  return Object.assign(t, { decoder });
}
