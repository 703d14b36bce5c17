import { afterEach, describe, expect, it } from 'vitest';
import { encodeConnect } from './flood-load.ts';
import { goodLoginUnderGuesses, rawConnect } from './login-load.ts';
import { startHarness, type Harness } from './test-harness.ts';

/**
 * Guessing costs the guesser (issue #16.3): 1,000 concurrent CONNECTs with wrong passwords must
 * not keep a real device out. Before the login guard and the fair scrypt queue, every guess ran
 * its scrypt at once (~27 a second) and a real device's login waited 36 s, past MQTT.js's 30 s
 * connect timeout (and never in 60 s on this machine under CI's load). The real figure is
 * bench/login.ts's; here only a generous bound the old behaviour fails. The guessers run in a
 * child process of their own, as on other hosts. The guessers come from other loopback addresses than the device, as from
 * other hosts.
 */
const GOOD_LOGIN_BOUND_MS = 15_000; // generous: CI runs this beside 89 other files on 2 cores

describe('1,000 concurrent wrong passwords', () => {
  it('leave a device logging in for the first time in, from 10 guessing hosts', async () => {
    const r = await goodLoginUnderGuesses({ count: 1_000, hosts: 10, warm: false, names: 'mixed' });
    expect(r.error).toBeUndefined();
    expect(r.ms).toBeLessThan(GOOD_LOGIN_BOUND_MS);
    // not one guess got in; most were turned away before any scrypt (3: too many waiting, 5: backing off or locked out)
    expect(r.answers['0']).toBeUndefined();
    expect((r.answers['3'] ?? 0) + (r.answers['5'] ?? 0)).toBeGreaterThan(500);
    expect(r.answers['4'] ?? 0).toBeGreaterThan(0);
    expect(r.refused('login_busy')).toBeGreaterThan(0);
  }, 180_000);

  it('leave a device that was in before in, though every guess names it, from 1,000 hosts', async () => {
    let afterwards: { own: number | string; guess: number | string } | undefined;
    const r = await goodLoginUnderGuesses({
      count: 1_000, hosts: 1_000, warm: true, names: 'kl-good',
      // once every guess is answered its username is locked out: a guess is refused without a
      // password check, while its own secret, seen before, still gets in
      after: async (h) => {
        const port = Number(new URL(h.mqttUrl).port);
        afterwards = {
          own: await rawConnect(port, '127.0.0.1', encodeConnect('kl-good', 'kl-good', h.secrets.get('kl-good')!)).answer,
          guess: await rawConnect(port, '127.0.0.2', encodeConnect('kl-good', 'kl-good', 'one-more-guess')).answer,
        };
      },
    });
    expect(r.error).toBeUndefined();
    expect(r.ms).toBeLessThan(GOOD_LOGIN_BOUND_MS);
    expect(r.answers['0']).toBeUndefined();
    expect(afterwards).toEqual({ own: 0, guess: 5 });
    expect(await r.metrics()).toMatch(/huewatch_login_lockouts_total\{surface="mqtt",reason="username"\} 1/);
  }, 180_000);
});

describe('a locked-out address', () => {
  let h: Harness | undefined;
  afterEach(async () => h?.close());

  it('is answered CONNACK 5 without a password check, even with a right secret; other addresses are not', async () => {
    h = await startHarness(['kl-good', 'kl-03'], { loginPerAddress: { points: 5, durationS: 600, blockS: 900 } });
    const port = Number(new URL(h.mqttUrl).port);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await rawConnect(port, '127.0.9.9', encodeConnect('kl-03', 'kl-03', `guess-${i}`)).answer);
    // 4 for the first wrong passwords, then 5 once it backs off (tries during the backoff count too)
    expect(answers.slice(0, 3)).toEqual([4, 4, 4]);
    expect(answers.slice(3)).toEqual([5, 5, 5]);
    const secret = h.secrets.get('kl-good')!;
    expect(await rawConnect(port, '127.0.9.9', encodeConnect('kl-good', 'kl-good', secret)).answer).toBe(5);
    expect(h.broker.counters.refused('login_locked')).toBe(4);
    expect(h.broker.counters.refused('bad_credentials')).toBe(3);
    expect(await h.metrics.metrics()).toMatch(/huewatch_login_lockouts_total\{surface="mqtt",reason="address"\} 1/);
    expect(await rawConnect(port, '127.0.9.10', encodeConnect('kl-good', 'kl-good', secret)).answer).toBe(0);
  }, 60_000);
});
