import { Counter, type Registry } from 'prom-client';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import { ThrottledLog } from './throttled-log.ts';

/**
 * Failed logins cost the guesser, per client address and per username: the first failures are
 * free (a typo), then each further one makes the next attempt wait (backoff, doubling), and
 * `points` failures within `durationS` lock the key out for `blockS`. A refusal is decided
 * before any password work, so a locked-out guesser costs no scrypt. Shared by the MQTT
 * broker's CONNECT (broker/admission.ts) and the console's HTTP login.
 *
 * Counts live in memory (rate-limiter-flexible's RateLimiterMemory, which reads Date.now: tests
 * move time with vitest's fake timers). A restart forgets them.
 */
export interface LoginLimit {
  /** failures within `durationS` that lock the key out */
  points: number;
  durationS: number;
  /** how long a lockout lasts */
  blockS: number;
  /** failures before backoff starts (default: half of `points`, rounded up) */
  backoffAfter?: number;
  /** the first backoff wait, doubled with each further failure up to `blockS` (default 1000) */
  backoffMs?: number;
}

export type LoginGuardReason = 'address' | 'username';
export type LoginCheck = { allowed: true } | { allowed: false; retryAfterMs: number; reason: LoginGuardReason };
export interface LoginAttempt {
  address: string;
  /** absent or empty: only the address is counted */
  username?: string | undefined;
}

export interface LoginGuardOptions {
  perAddress: LoginLimit;
  perUsername: LoginLimit;
  /** where the counters go: `huewatch_login_failures_total{surface}`, `huewatch_login_refused_total{surface,reason}` */
  metrics?: Registry;
  log?: Logger;
  /** the metric label and log field naming who uses this guard, e.g. `mqtt` or `http` */
  surface?: string;
  /** one log line per surface and reason per interval (default 60 s); the counters see every one */
  logIntervalMs?: number;
}

export interface LoginGuard {
  /**
   * may this attempt go on to a password check? Refused: locked out or backing off, with how
   * long to wait (a try during the backoff counts as a failure)
   */
  check(a: LoginAttempt): Promise<LoginCheck>;
  /** a wrong password (or unknown user): counts against the address and the username */
  failed(a: LoginAttempt): Promise<void>;
  /**
   * a right password: the username's failures are forgotten (its owner is back); the address's
   * are kept, or one valid account would let its holder guess others' passwords for free
   */
  succeeded(a: LoginAttempt): Promise<void>;
}

const limitSchemaCheck = (name: string, l: LoginLimit): void => {
  for (const k of ['points', 'durationS', 'blockS'] as const) {
    if (!(Number.isFinite(l[k]) && l[k] > 0)) throw new Error(`login guard: ${name}.${k} must be a positive number (got ${l[k]})`);
  }
};

function counter(reg: Registry | undefined, name: string, help: string, labelNames: string[]): Counter<string> {
  const existing = reg?.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: reg ? [reg] : [] });
}

/** one dimension (address or username): failures with lockout, and a backoff wait between tries */
function dimension(l: LoginLimit) {
  const failures = new RateLimiterMemory({ points: l.points, duration: l.durationS, blockDuration: l.blockS });
  // a key "blocked" here is one that must wait before its next try
  const backoff = new RateLimiterMemory({ points: 1, duration: l.blockS });
  const after = l.backoffAfter ?? Math.ceil(l.points / 2);
  const baseMs = l.backoffMs ?? 1000;
  return {
    /** ms to wait, 0 = may try now; `locked` when the wait is the lockout */
    async wait(key: string): Promise<{ ms: number; locked: boolean }> {
      const f = await failures.get(key);
      if (f && f.consumedPoints > l.points && f.msBeforeNext > 0) return { ms: f.msBeforeNext, locked: true };
      const b = await backoff.get(key);
      if (b && b.consumedPoints > 1 && b.msBeforeNext > 0) return { ms: b.msBeforeNext, locked: false };
      return { ms: 0, locked: false };
    },
    /** counts a failure; true when it started a lockout */
    async fail(key: string): Promise<boolean> {
      const res = await failures.consume(key).catch((r: { consumedPoints: number }) => r);
      const n = res.consumedPoints;
      if (n === l.points + 1) return true; // the failure past `points` blocked the key
      if (n >= after && n <= l.points) {
        const ms = Math.min(baseMs * 2 ** (n - after), l.blockS * 1000);
        await backoff.block(key, ms / 1000);
      }
      return false;
    },
    async forget(key: string): Promise<void> {
      await failures.delete(key);
      await backoff.delete(key);
    },
  };
}

export function createLoginGuard(opts: LoginGuardOptions): LoginGuard {
  limitSchemaCheck('perAddress', opts.perAddress);
  limitSchemaCheck('perUsername', opts.perUsername);
  const surface = opts.surface ?? 'login';
  const byAddress = dimension(opts.perAddress);
  const byUsername = dimension(opts.perUsername);
  const failuresTotal = counter(opts.metrics, 'huewatch_login_failures_total', 'Failed logins (wrong secret or unknown user), by surface', ['surface']);
  const refusedTotal = counter(opts.metrics, 'huewatch_login_refused_total', 'Login attempts refused before any password check (backoff or lockout), by surface and what was limited', ['surface', 'reason']);
  const lockoutsTotal = counter(opts.metrics, 'huewatch_login_lockouts_total', 'Lockouts started, by surface and what was locked out', ['surface', 'reason']);
  const throttled = opts.log ? new ThrottledLog(opts.log.child({ module: 'login-guard' }), opts.logIntervalMs ?? 60_000) : undefined;

  const refuse = (reason: LoginGuardReason, a: LoginAttempt, w: { ms: number; locked: boolean }): LoginCheck => {
    refusedTotal.inc({ surface, reason });
    throttled?.warn(`${surface}:refused:${reason}`, { surface, reason, address: a.address, username: a.username, retryAfterMs: w.ms, locked: w.locked }, 'login refused before the password check');
    return { allowed: false, retryAfterMs: Math.ceil(w.ms), reason };
  };

  const guard: LoginGuard = {
    async check(a) {
      // a try made while told to wait counts as a failure: a guesser that ignores the backoff
      // still reaches the lockout, without a password check
      const wa = await byAddress.wait(a.address);
      if (wa.ms > 0) {
        if (!wa.locked) await guard.failed(a);
        return refuse('address', a, wa.locked ? wa : await byAddress.wait(a.address));
      }
      if (a.username) {
        const wu = await byUsername.wait(a.username);
        if (wu.ms > 0) {
          if (!wu.locked) await guard.failed(a);
          return refuse('username', a, wu.locked ? wu : await byUsername.wait(a.username));
        }
      }
      return { allowed: true };
    },
    async failed(a) {
      failuresTotal.inc({ surface });
      const locked: LoginGuardReason[] = [];
      if (await byAddress.fail(a.address)) locked.push('address');
      if (a.username && (await byUsername.fail(a.username))) locked.push('username');
      for (const reason of locked) {
        lockoutsTotal.inc({ surface, reason });
        const blockS = reason === 'address' ? opts.perAddress.blockS : opts.perUsername.blockS;
        throttled?.warn(`${surface}:lockout:${reason}`, { surface, reason, address: a.address, username: a.username, blockS }, 'too many failed logins: locked out');
      }
    },
    async succeeded(a) {
      if (a.username) await byUsername.forget(a.username);
    },
  };
  return guard;
}
