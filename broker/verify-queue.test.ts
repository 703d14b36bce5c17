import { describe, expect, it } from 'vitest';
import { createVerifyQueue } from './verify-queue.ts';

/** a task that finishes when told, recording when it started */
function gate(started: string[], name: string) {
  let open!: (v: boolean) => void;
  const done = new Promise<boolean>((r) => (open = r));
  return { task: () => (started.push(name), done), open: () => open(true) };
}

describe('verify queue', () => {
  it('runs `concurrency` at once, taking addresses in turn, an idle address\'s first check ahead of the line', async () => {
    const q = createVerifyQueue({ concurrency: 1, perAddress: 10, maxPending: 10 });
    const started: string[] = [];
    const gates = ['a1', 'a2', 'a3', 'b1'].map((n) => gate(started, n));
    const results = gates.map((g, i) => q.run(i < 3 ? 'A' : 'B', g.task));
    expect(started).toEqual(['a1']);
    for (let i = 0; i < 4; i++) {
      const running = started.at(-1)!;
      gates.find((_, j) => ['a1', 'a2', 'a3', 'b1'][j] === running)!.open();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(started).toEqual(['a1', 'b1', 'a2', 'a3']); // B's one check went before A's second
    expect(await Promise.all(results)).toEqual([true, true, true, true]);
    expect(q.pending).toBe(0);
  });

  it('refuses past the per-address bound, and past the total gives a newcomer the place of the most-waiting address’s last', async () => {
    const q = createVerifyQueue({ concurrency: 1, perAddress: 3, maxPending: 4 });
    const started: string[] = [];
    const a = ['a1', 'a2', 'a3', 'a4'].map((n) => gate(started, n));
    const ra = a.map((g) => q.run('A', g.task));
    expect(await ra[3]).toBeUndefined(); // A's 4th: over perAddress
    const b = gate(started, 'b1');
    const rb = q.run('B', b.task);
    const c = gate(started, 'c1');
    const rc = q.run('C', c.task); // total 4 reached by A×3 + B: C takes A's last waiting place
    expect(await ra[2]).toBeUndefined();
    const d = gate(started, 'd1');
    expect(await q.run('D', d.task)).toBeUndefined(); // A, B, C now wait 1, 1, 1 (a1 runs): nobody has more than D would
    for (const g of [a[0]!, a[1]!, b, c]) {
      g.open();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(await Promise.all([ra[0], ra[1], rb, rc])).toEqual([true, true, true, true]);
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2']); // B and C came idle: their first checks go first
    expect(q.pending).toBe(0);
  });
});
