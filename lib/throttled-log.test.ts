import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ThrottledLog } from './throttled-log.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { log: pino({ level: 'warn' }, stream), lines };
}

describe('ThrottledLog', () => {
  it('logs the first problem of a key at once and suppresses repeats within the interval', async () => {
    const { log, lines } = capture();
    let now = 0;
    const t = new ThrottledLog(log, 60_000, () => now);
    for (let i = 0; i < 100; i++) t.warn('dev-a', { device: 'dev-a' }, 'bad payload');
    t.warn('dev-b', { device: 'dev-b' }, 'bad payload');
    now = 60_000;
    t.warn('dev-a', { device: 'dev-a' }, 'bad payload');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.device, l.suppressed])).toEqual([
      ['dev-a', undefined],
      ['dev-b', undefined],
      ['dev-a', 99],
    ]);
  });

  it('forgets the oldest key when more keys than its bound have problems', async () => {
    const { log, lines } = capture();
    const t = new ThrottledLog(log, 60_000, () => 0, 2);
    t.warn('a', { k: 'a' }, 'x');
    t.warn('b', { k: 'b' }, 'x');
    t.warn('c', { k: 'c' }, 'x'); // evicts a
    t.warn('a', { k: 'a' }, 'x'); // logged again: a was forgotten
    t.warn('c', { k: 'c' }, 'x'); // still throttled
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.k)).toEqual(['a', 'b', 'c', 'a']);
  });
});
