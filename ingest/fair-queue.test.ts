import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue.ts';

const part = (key: string, n: number, tag: string) => ({ key, rows: Array.from({ length: n }), tag });

describe('fair queue of group-commit parts', () => {
  it('serves devices round-robin: one reading of a quiet device goes into the next write behind a flooder’s backlog', () => {
    const q = new FairQueue<ReturnType<typeof part>>();
    for (let i = 0; i < 1_000; i++) q.push(part('flooder', 20, `f${i}`));
    q.push(part('station', 1, 's0'));
    const first = q.take(100);
    expect(first.map((p) => p.tag)).toEqual(['f0', 's0', 'f1', 'f2', 'f3']);
    expect(q.length).toBe(996);
  });

  it('keeps each device’s parts in order, takes at least one part, and puts parts back at the front in order', () => {
    const q = new FairQueue<ReturnType<typeof part>>();
    for (let i = 0; i < 3; i++) for (const k of ['a', 'b']) q.push(part(k, 5, `${k}${i}`));
    expect(q.take(1).map((p) => p.tag)).toEqual(['a0']); // larger than the bound: alone
    const batch = q.take(20);
    expect(batch.map((p) => p.tag)).toEqual(['b0', 'a1', 'b1', 'a2']);
    q.putBack(batch.slice(2)); // b1, a2 were not written
    expect(q.take(1_000).map((p) => p.tag)).toEqual(['b1', 'a2', 'b2']);
    expect(q.length).toBe(0);
    expect(q.take(10)).toEqual([]);
  });

  it('stays linear for a long backlog of one device', () => {
    const q = new FairQueue<ReturnType<typeof part>>();
    for (let i = 0; i < 200_000; i++) q.push(part('flooder', 1, String(i)));
    let taken = 0;
    for (let round = 0; round < 100 && q.length > 0; round++) taken += q.take(10_000).length;
    expect(taken).toBe(200_000);
  });
});
