import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createLoginGuard, type LoginGuard } from './login-guard.ts';

// rate-limiter-flexible reads Date.now and expires keys with setTimeout: vitest's fake timers move both
beforeEach(() => vi.useFakeTimers({ now: new Date('2026-10-01T00:00:00Z') }));
afterEach(() => vi.useRealTimers());

const opts = {
  perAddress: { points: 6, durationS: 600, blockS: 900, backoffAfter: 4, backoffMs: 1000 },
  perUsername: { points: 4, durationS: 600, blockS: 300, backoffAfter: 2, backoffMs: 500 },
};

async function fail(g: LoginGuard, n: number, address: string, username?: string) {
  for (let i = 0; i < n; i++) await g.failed({ address, username });
}

describe('login guard', () => {
  it('lets the first failures through, then makes each next try wait longer, doubling', async () => {
    const g = createLoginGuard(opts);
    await fail(g, 1, '10.0.0.1', 'kl-01');
    expect(await g.check({ address: '10.0.0.1', username: 'kl-01' })).toEqual({ allowed: true }); // a typo is free
    await fail(g, 1, '10.0.0.1', 'kl-01'); // username's 2nd: backoff 500 ms
    expect(await g.check({ address: '10.0.0.1', username: 'kl-02' })).toEqual({ allowed: true }); // another name from the same address
    vi.advanceTimersByTime(499);
    // that try came too early: a failure of its own, so the wait doubled to 1000 ms
    expect(await g.check({ address: '10.0.0.1', username: 'kl-01' })).toEqual({ allowed: false, reason: 'username', retryAfterMs: 1000 });
    vi.advanceTimersByTime(999);
    expect((await g.check({ address: '10.0.0.1', username: 'kl-01' })).allowed).toBe(false); // too early again: 2000 ms
    vi.advanceTimersByTime(2001);
    expect(await g.check({ address: '10.0.0.1', username: 'kl-01' })).toEqual({ allowed: true });
    await fail(g, 1, '10.0.0.9', 'kl-01'); // 5th (a wrong password), from anywhere: past `points`, locked
    const fifth = await g.check({ address: '10.0.0.7', username: 'kl-01' });
    expect(fifth).toMatchObject({ allowed: false, reason: 'username', retryAfterMs: 300_000 });
  });

  it('counts a try during the backoff as a failure, so a guesser that ignores it is locked out', async () => {
    const g = createLoginGuard(opts);
    await fail(g, 4, '10.0.0.1', undefined); // the address backs off from its 4th failure
    expect(await g.check({ address: '10.0.0.1' })).toMatchObject({ allowed: false, reason: 'address', retryAfterMs: 2000 }); // 5th
    expect(await g.check({ address: '10.0.0.1' })).toMatchObject({ allowed: false, reason: 'address', retryAfterMs: 4000 }); // 6th
    expect(await g.check({ address: '10.0.0.1' })).toMatchObject({ allowed: false, reason: 'address', retryAfterMs: 900_000 }); // 7th: locked
  });

  it('locks a username out for blockS once it passes `points` failures, whatever the address', async () => {
    const g = createLoginGuard(opts);
    for (let i = 0; i < 5; i++) await g.failed({ address: `10.0.1.${i}`, username: 'kl-01' });
    const r = await g.check({ address: '10.0.2.1', username: 'kl-01' });
    expect(r).toMatchObject({ allowed: false, reason: 'username' });
    expect(r.allowed === false && r.retryAfterMs).toBe(300_000);
    vi.advanceTimersByTime(299_000);
    expect((await g.check({ address: '10.0.2.1', username: 'kl-01' })).allowed).toBe(false);
    vi.advanceTimersByTime(2_000);
    expect(await g.check({ address: '10.0.2.1', username: 'kl-01' })).toEqual({ allowed: true });
  });

  it('locks an address out across usernames, and a success does not unlock it', async () => {
    const g = createLoginGuard(opts);
    for (let i = 0; i < 7; i++) await g.failed({ address: '10.0.0.66', username: `guess-${i}` });
    await g.succeeded({ address: '10.0.0.66', username: 'real-device' });
    const r = await g.check({ address: '10.0.0.66', username: 'real-device' });
    expect(r).toMatchObject({ allowed: false, reason: 'address' });
    expect(r.allowed === false && r.retryAfterMs).toBe(900_000);
    expect(await g.check({ address: '10.0.0.67', username: 'real-device' })).toEqual({ allowed: true });
  });

  it('forgets a username’s failures when its owner logs in', async () => {
    const g = createLoginGuard(opts);
    await fail(g, 3, '10.0.0.1', 'kl-01');
    expect((await g.check({ address: '10.0.0.2', username: 'kl-01' })).allowed).toBe(false);
    await g.succeeded({ address: '10.0.0.2', username: 'kl-01' });
    expect(await g.check({ address: '10.0.0.2', username: 'kl-01' })).toEqual({ allowed: true });
  });

  it('forgets failures older than durationS', async () => {
    const g = createLoginGuard(opts);
    await fail(g, 3, '10.0.0.1', 'kl-01');
    vi.advanceTimersByTime(601_000);
    expect(await g.check({ address: '10.0.0.1', username: 'kl-01' })).toEqual({ allowed: true });
    await fail(g, 1, '10.0.0.1', 'kl-01'); // counts from one again: free
    expect(await g.check({ address: '10.0.0.1', username: 'kl-01' })).toEqual({ allowed: true });
  });

  it('counts failures, refusals and lockouts in metrics shared by two guards, and logs once per interval', async () => {
    const metrics = new Registry();
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const mqtt = createLoginGuard({ ...opts, metrics, log, surface: 'mqtt', logIntervalMs: 60_000 });
    const http = createLoginGuard({ ...opts, metrics, surface: 'http' }); // same registry: no duplicate-metric error
    for (let i = 0; i < 5; i++) await mqtt.failed({ address: `10.0.3.${i}`, username: 'kl-01' });
    for (let i = 0; i < 10; i++) await mqtt.check({ address: '10.0.4.1', username: 'kl-01' });
    await http.failed({ address: '10.0.5.1', username: 'admin' });
    const text = await metrics.metrics();
    expect(text).toContain('huewatch_login_failures_total{surface="mqtt"} 5');
    expect(text).toContain('huewatch_login_failures_total{surface="http"} 1');
    expect(text).toContain('huewatch_login_refused_total{surface="mqtt",reason="username"} 10');
    expect(text).toContain('huewatch_login_lockouts_total{surface="mqtt",reason="username"} 1');
    const refusedLines = lines.filter((l) => l.msg === 'login refused before the password check');
    expect(refusedLines).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'too many failed logins: locked out')).toHaveLength(1);
    vi.advanceTimersByTime(61_000);
    await mqtt.check({ address: '10.0.4.1', username: 'kl-01' });
    expect(lines.filter((l) => l.msg === 'login refused before the password check').at(-1)).toMatchObject({ suppressed: 9, username: 'kl-01' });
  });

  it('refuses a limit that is not positive, naming it', () => {
    expect(() => createLoginGuard({ ...opts, perUsername: { points: 0, durationS: 1, blockS: 1 } })).toThrow(/perUsername\.points/);
  });
});
