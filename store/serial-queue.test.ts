import { describe, expect, it } from 'vitest';
import { SerialQueue, StoreErrorCode } from './serial-queue.ts';

describe('the serial queue', () => {
  it('runs tasks one at a time in call order even when they finish at different speeds', async () => {
    const q = new SerialQueue(10);
    const log: string[] = [];
    const task = (name: string, ms: number) => q.run(async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      return name;
    });
    expect(await Promise.all([task('a', 20), task('b', 1), task('c', 5)])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('keeps going after a task fails and reports the failure to that caller only', async () => {
    const q = new SerialQueue(10);
    const failed = q.run(async () => { throw new Error('boom'); });
    const next = q.run(async () => 42);
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe(42);
    expect(q.pending).toBe(0);
  });

  it('refuses work beyond its bound with HW_ERR_STORE_BUSY and accepts it again once drained', async () => {
    const q = new SerialQueue(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = q.run(() => gate);
    const second = q.run(async () => 'second');
    await expect(q.run(async () => 'third')).rejects.toMatchObject({ code: StoreErrorCode.BUSY });
    release();
    await first;
    expect(await second).toBe('second');
    await q.drain();
    expect(await q.run(async () => 'fourth')).toBe('fourth');
  });
});
