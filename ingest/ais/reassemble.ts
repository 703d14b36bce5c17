import type { AisSentence } from './nmea.ts';

/**
 * Joins the fragments of multipart AIS messages (IEC 61162-1 VDM: fragment count, fragment number,
 * sequential message id). Fragments of different messages interleave on a busy receiver, so each
 * (source, formatter, channel, sequence id) has its own slot. Bounded: a slot expires after
 * `timeoutMs` (fragments of one message are sent back to back; seconds later they never complete)
 * and at most `maxPending` slots are open (the oldest is evicted), so garbage cannot grow memory.
 */

export const DEFAULT_FRAGMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_PENDING = 256;

export type FragmentDrop = 'fragment_timeout' | 'fragment_evicted' | 'fragment_orphan' | 'fragment_superseded';

interface Slot {
  count: number;
  next: number;
  payload: string;
  firstAt: number;
  sentences: string[];
}

export interface Reassembled {
  payload: string;
  fillBits: number;
  channel: string;
  own: boolean;
  sentences: string[];
}

export class Reassembler {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly opts: { timeoutMs?: number; maxPending?: number; onDrop(reason: FragmentDrop, n: number): void } = { onDrop: () => undefined },
  ) {}

  get pending(): number {
    return this.slots.size;
  }

  /** Drops slots older than the timeout; called on every push and may be called on a timer. */
  expire(now: number): void {
    const timeout = this.opts.timeoutMs ?? DEFAULT_FRAGMENT_TIMEOUT_MS;
    for (const [key, slot] of this.slots) {
      // Map order is insertion order, so the first young slot ends the scan.
      if (now - slot.firstAt <= timeout) break;
      this.slots.delete(key);
      this.opts.onDrop('fragment_timeout', slot.sentences.length);
    }
  }

  push(s: AisSentence, now: number, source = ''): Reassembled | undefined {
    if (s.fragmentCount === 1) return { payload: s.payload, fillBits: s.fillBits, channel: s.channel, own: s.own, sentences: [s.raw] };
    this.expire(now);
    const key = `${source}|${s.formatter}|${s.channel}|${s.seqId}`;
    const slot = this.slots.get(key);
    if (s.fragmentNumber === 1) {
      if (slot) {
        this.slots.delete(key);
        this.opts.onDrop('fragment_superseded', slot.sentences.length);
      }
      if (this.slots.size >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) {
        const [oldKey, old] = this.slots.entries().next().value!;
        this.slots.delete(oldKey);
        this.opts.onDrop('fragment_evicted', old.sentences.length);
      }
      // Fill bits of a non-final fragment are 0 by rule; only the last fragment's count matters.
      this.slots.set(key, { count: s.fragmentCount, next: 2, payload: s.payload, firstAt: now, sentences: [s.raw] });
      return undefined;
    }
    if (!slot || slot.count !== s.fragmentCount || slot.next !== s.fragmentNumber) {
      // A later fragment without its predecessors: nothing can be made of it, nor of the slot.
      if (slot) {
        this.slots.delete(key);
        this.opts.onDrop('fragment_orphan', slot.sentences.length);
      }
      this.opts.onDrop('fragment_orphan', 1);
      return undefined;
    }
    slot.payload += s.payload;
    slot.sentences.push(s.raw);
    slot.next++;
    if (s.fragmentNumber < slot.count) return undefined;
    this.slots.delete(key);
    return { payload: slot.payload, fillBits: s.fillBits, channel: s.channel, own: s.own, sentences: slot.sentences };
  }
}
