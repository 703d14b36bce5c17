/**
 * Parts waiting for a group commit, one FIFO per device, taken round-robin across devices: a
 * device with one reading waiting goes into the next write however many a flooding device has
 * queued (issue #16 "fair under floods"). Each device's own parts keep their order, which is all
 * the store and the rules rely on (observations are published before the write, per station in
 * order: reading-sink.ts). O(1) a part: a queue is an array with a moving head.
 */
export interface Keyed {
  readonly key: string;
  readonly rows: { readonly length: number };
}

interface Fifo<T> {
  items: T[];
  head: number;
}

export class FairQueue<T extends Keyed> {
  /** in service order: a device served moves to the back */
  private readonly queues = new Map<string, Fifo<T>>();
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(part: T): void {
    const q = this.queues.get(part.key);
    if (q) q.items.push(part);
    else this.queues.set(part.key, { items: [part], head: 0 });
    this.count++;
  }

  /** Takes parts round-robin, one per device per round, up to `maxRows` rows (at least one part). */
  take(maxRows: number): T[] {
    const out: T[] = [];
    let rows = 0;
    while (this.queues.size > 0) {
      const [key, q] = this.queues.entries().next().value as [string, Fifo<T>];
      const part = q.items[q.head]!;
      if (out.length > 0 && rows + part.rows.length > maxRows) break;
      out.push(part);
      rows += part.rows.length;
      q.head++;
      this.count--;
      this.queues.delete(key);
      if (q.head < q.items.length) {
        if (q.head > 1024 && q.head * 2 > q.items.length) {
          q.items = q.items.slice(q.head);
          q.head = 0;
        }
        this.queues.set(key, q);
      }
    }
    return out;
  }

  /** Puts parts taken but not written back at the front of their devices' queues, in their order. */
  putBack(parts: readonly T[]): void {
    for (let i = parts.length - 1; i >= 0; i--) {
      const part = parts[i]!;
      const q = this.queues.get(part.key);
      if (!q) this.queues.set(part.key, { items: [part], head: 0 });
      else if (q.head > 0) q.items[--q.head] = part;
      else q.items.unshift(part);
      this.count++;
    }
  }
}
