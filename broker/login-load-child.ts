import { guessFlood, tally } from './login-load.ts';

/**
 * The guessers of `goodLoginUnderGuesses` in a process of their own (as on other hosts), so the
 * broker's event loop does only the broker's work: `node --import tsx login-load-child.ts
 * '{"port":…,"count":…,"hosts":…,"names":"mixed"|"<username>"}'`. Prints `sent` once every
 * CONNECT is on the wire, then one JSON line with the tally of the answers.
 */
const o = JSON.parse(process.argv[2] ?? '{}') as { port: number; count: number; hosts: number; names: string };
const name = o.names === 'mixed' ? (i: number) => (i % 3 === 0 ? `ghost-${i}` : `kl-0${(i % 2) + 1}`) : () => o.names;
const guesses = guessFlood(o.port, o.count, o.hosts, name);
await Promise.all(guesses.map((g) => g.sent));
process.stdout.write('sent\n');
process.stdout.write(JSON.stringify(tally(await Promise.all(guesses.map((g) => g.answer)))) + '\n');
