import type { Reading } from '../contract/telemetry.ts';

/**
 * Readings a device sent twice. `seq` rises by one per reading per device (DESIGN.md "Wire
 * contract"), so a QoS 1 redelivery or a store-and-forward retry comes again with the same seq.
 * With a `ts` the store's idempotent write (station, metric, ts) already keeps one row; without
 * one, ingest stamps each copy with its own receive time and both would be stored (issue #12.3:
 * 30 mm of rain counted as 60). So a reading is a duplicate when the same device sent the same seq
 * with the same measurements within `windowMs`, and, if it carries a ts, the same ts. A device that
 * rebooted and counts from 0 again sends new values under old seqs: not a duplicate.
 *
 * Bounded: at most `perDevice` seqs per device (its oldest forgotten first) and `total` over all
 * devices (the oldest of the device heard from longest ago forgotten first). A copy that arrives
 * after its original was forgotten is stored again, as before this check existed.
 */

export interface SeqDedupeOptions {
  /** how long a seq is remembered after it was received; default 24 h */
  windowMs?: number;
  /** seqs remembered per device; default 4,096 (four store-and-forward flushes of 1,000) */
  perDevice?: number;
  /** seqs remembered over all devices; default 200,000 (~40 MB at most) */
  total?: number;
}

export const DEFAULT_SEQ_WINDOW_MS = 24 * 3_600_000;
export const DEFAULT_SEQ_PER_DEVICE = 4_096;
export const DEFAULT_SEQ_TOTAL = 200_000;

interface Seen {
  /** the measurements, canonical (metric names sorted) */
  values: string;
  ts: number;
  /** receive time, for the window */
  at: number;
  /** until the original is durable: its duplicates are acknowledged only when it is */
  durable: Promise<unknown> | undefined;
}

/** The measurements of a reading in one canonical string: `metric=value` sorted by metric. */
export function measurementsOf(values: Reading['values']): string {
  return Object.keys(values).sort().map((k) => `${k}=${values[k as keyof typeof values]}`).join(';');
}

export class SeqDedupe {
  readonly #windowMs: number;
  readonly #perDevice: number;
  readonly #total: number;
  /** per device, seq → what was seen, in the order received; devices in the order last heard from */
  readonly #devices = new Map<string, Map<number, Seen>>();
  #size = 0;

  constructor(opts: SeqDedupeOptions = {}) {
    this.#windowMs = opts.windowMs ?? DEFAULT_SEQ_WINDOW_MS;
    this.#perDevice = opts.perDevice ?? DEFAULT_SEQ_PER_DEVICE;
    this.#total = opts.total ?? DEFAULT_SEQ_TOTAL;
  }

  /** how long a seq is remembered, ms */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** seqs remembered at most, over all devices */
  get capacity(): number {
    return this.#total;
  }

  /** seqs remembered now, over all devices */
  get size(): number {
    return this.#size;
  }

  /**
   * The original of `reading` if it is a duplicate: `{ durable }` resolves when the original is
   * stored (at once for one already stored). Undefined when it is new (it is not remembered yet:
   * `remember` it once it joins a write).
   */
  duplicateOf(device: string, reading: Reading, now: number): { durable: Promise<unknown> } | undefined {
    if (reading.seq === undefined) return undefined;
    const seen = this.#devices.get(device)?.get(reading.seq);
    if (!seen || now - seen.at > this.#windowMs) return undefined;
    if (seen.values !== measurementsOf(reading.values)) return undefined;
    // a reading sent without ts carries the receive time `now` (decodeTelemetry): any earlier ts matches
    if (reading.ts !== now && reading.ts !== seen.ts) return undefined;
    return { durable: seen.durable ?? Promise.resolve() };
  }

  /**
   * Remembers readings received at `at` whose write `durable` resolves when they are stored. If
   * the write fails they are forgotten again, so the redelivery that follows is not taken for a
   * duplicate of a reading that was never stored.
   */
  remember(device: string, readings: readonly Reading[], at: number, durable?: Promise<unknown>): void {
    let seqs = this.#devices.get(device);
    if (seqs) this.#devices.delete(device); // re-inserted below: last heard from goes last
    else seqs = new Map();
    this.#devices.set(device, seqs);
    const added: Array<[number, Seen]> = [];
    for (const r of readings) {
      if (r.seq === undefined) continue;
      const seen: Seen = { values: measurementsOf(r.values), ts: r.ts, at, durable };
      if (seqs.delete(r.seq)) this.#size--; // a reused seq (the device counted again) moves to the end
      seqs.set(r.seq, seen);
      this.#size++;
      added.push([r.seq, seen]);
    }
    if (durable && added.length > 0) {
      durable.then(
        () => { for (const [, seen] of added) seen.durable = undefined; },
        () => { for (const [seq, seen] of added) this.#forget(device, seq, seen); },
      );
    }
    this.#trim(device, seqs, at);
  }

  #forget(device: string, seq: number, seen: Seen): void {
    const seqs = this.#devices.get(device);
    if (seqs?.get(seq) !== seen) return;
    seqs.delete(seq);
    this.#size--;
    if (seqs.size === 0) this.#devices.delete(device);
  }

  /** Expires and bounds: this device's old and surplus seqs, then the devices heard from longest ago. */
  #trim(device: string, seqs: Map<number, Seen>, now: number): void {
    const cut = now - this.#windowMs;
    for (const [seq, seen] of seqs) {
      if (seqs.size <= this.#perDevice && seen.at >= cut) break;
      seqs.delete(seq);
      this.#size--;
    }
    if (seqs.size === 0) this.#devices.delete(device);
    // oldest first: the device heard from longest ago, its oldest seq first
    for (const [id, oldest] of this.#devices) {
      for (const [seq, seen] of oldest) {
        if (this.#size <= this.#total && seen.at >= cut) return;
        oldest.delete(seq);
        this.#size--;
      }
      this.#devices.delete(id);
    }
  }
}
