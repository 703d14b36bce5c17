/**
 * Login under guessing: `node --import tsx bench/login.ts [guesses]` (default 1,000). Figures to
 * compare between runs, never pass/fail; one `name value unit` line each.
 *
 * A real broker (broker/test-harness.ts) takes `guesses` concurrent CONNECTs with wrong
 * passwords on raw sockets from other loopback addresses (broker/login-load.ts); once every one
 * is on the wire, a real device logs in with MQTT.js from 127.0.0.1 and the time to its CONNACK
 * is printed. Runs: a device logging in for the first time (its secret checked by scrypt) with
 * the guesses from 10 hosts; a device that was in before (its secret remembered) with the
 * guesses from as many hosts as guesses, every one naming it; and the first case again with the
 * guard and queue opened wide (every check at once, as before issue #16: the 36 s it measured).
 */
import { goodLoginUnderGuesses } from '../broker/login-load.ts';
import { countArg, note, print } from './report.ts';

const guesses = countArg('guesses', process.argv[2], 1_000, 10_000);
const wide = {
  loginPerAddress: { points: 1e9, durationS: 1, blockS: 1 },
  loginPerUsername: { points: 1e9, durationS: 1, blockS: 1 },
  verifyConcurrency: 1e6,
  verifyPendingPerAddress: 1e6,
  verifyPendingMax: 1e6,
};

async function one(label: string, o: Parameters<typeof goodLoginUnderGuesses>[0]) {
  const t0 = performance.now();
  const r = await goodLoginUnderGuesses(o);
  if (r.ms === undefined) note(`${label}: the device was refused: ${r.error}`);
  else print(`login under ${guesses} guesses: ${label}`, r.ms, 'ms');
  note(`${label}: guesses answered ${JSON.stringify(r.answers)} (CONNACK 3 busy, 4 wrong, 5 locked out) in ${Math.round(performance.now() - t0)} ms`);
}

await one('first login, 10 guessing hosts', { count: guesses, hosts: 10, warm: false, names: 'mixed' });
await one(`known device, ${guesses} hosts guessing its name`, { count: guesses, hosts: guesses, warm: true, names: 'kl-good' });
await one('first login, guard and queue off (before #16)', { count: guesses, hosts: 10, warm: false, names: 'mixed', extra: wide });
