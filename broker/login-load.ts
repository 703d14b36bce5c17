import { spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { encodeConnect } from './flood-load.ts';
import { startHarness, type Harness } from './test-harness.ts';
import type { BrokerServerOptions } from './server.ts';

/**
 * Password-guessing load for `login-flood.test.ts` and `bench/login.ts`: raw sockets, one CONNECT
 * each, from chosen loopback addresses (all of 127.0.0.0/8 is loopback on Linux), as guessers on
 * other hosts. Each wait is bounded by a timeout.
 */
export type Answer = number | 'closed' | 'timeout';

/** one CONNECT from `localAddress`: `sent` once it is on the wire, `answer` its CONNACK return code or how it ended */
export function rawConnect(port: number, localAddress: string, packet: Buffer, ms = 60_000): { sent: Promise<void>; answer: Promise<Answer> } {
  let sentResolve!: () => void;
  const sent = new Promise<void>((r) => (sentResolve = r));
  const answer = new Promise<Answer>((resolve) => {
    const sock = netConnect({ host: '127.0.0.1', port, localAddress });
    const timer = setTimeout(() => finish('timeout'), ms);
    let buf = Buffer.alloc(0);
    let done = false;
    function finish(a: Answer) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sentResolve();
      sock.destroy();
      resolve(a);
    }
    sock.on('connect', () => sock.write(packet, () => sentResolve()));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf[0] === 0x20) finish(buf[3]!);
    });
    sock.on('error', () => finish('closed'));
    sock.on('close', () => finish('closed'));
  });
  return { sent, answer };
}

/** how many answers of each kind: `{ '3': 912, '4': 80, … }` */
export function tally(answers: Answer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) t[String(a)] = (t[String(a)] ?? 0) + 1;
  return t;
}

/** `count` wrong-password CONNECTs spread over `hosts` loopback addresses (127.1.0.1, 127.1.0.2, …: never 127.0.0.1) */
export function guessFlood(port: number, count: number, hosts: number, username: (i: number) => string) {
  return Array.from({ length: count }, (_, i) => {
    const h = i % hosts;
    const address = `127.${1 + Math.floor(h / 250)}.0.${1 + (h % 250)}`;
    const user = username(i);
    return rawConnect(port, address, encodeConnect(user, user, `guess-${i}`));
  });
}

/** the guessers in a child process (login-load-child.ts): resolves once every CONNECT is sent, with the tally to come */
async function guessersApart(o: { port: number; count: number; hosts: number; names: string }, ms = 120_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./login-load-child.ts', import.meta.url)), JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    wake?.();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => (wake?.(), r())));
  const line = async (n: number) => {
    const end = Date.now() + ms;
    while (lines.length <= n && child.exitCode === null && Date.now() < end) await new Promise<void>((r) => { wake = r; setTimeout(r, 500); });
    if (lines.length <= n) {
      child.kill('SIGKILL');
      throw new Error(`the guessers' process said nothing (line ${n + 1})`);
    }
    return lines[n]!;
  };
  await line(0);
  return {
    answers: async () => {
      const t = JSON.parse(await line(1)) as Record<string, number>;
      await exited;
      return t;
    },
  };
}

/**
 * A harness broker, `count` guesses in flight from a child process, then a real device's login
 * by MQTT.js from 127.0.0.1: how long it took (ms), or the error. `warm`: the device logged in
 * once before. `names`: `mixed` (unknown users and other devices) or the one username every guess names.
 */
export async function goodLoginUnderGuesses(o: { count: number; hosts: number; warm: boolean; names: string; extra?: Partial<BrokerServerOptions>; after?: (h: Harness) => Promise<void> }) {
  const h: Harness = await startHarness(['kl-good', 'kl-01', 'kl-02'], o.extra);
  try {
    const port = Number(new URL(h.mqttUrl).port);
    if (o.warm) await (await h.device('kl-good')).endAsync();
    const guessers = await guessersApart({ port, count: o.count, hosts: o.hosts, names: o.names });
    const t0 = performance.now();
    let ms: number | undefined;
    let error: string | undefined;
    try {
      const good = await h.device('kl-good', { connectTimeout: 60_000 });
      ms = performance.now() - t0;
      await good.endAsync();
    } catch (e) {
      error = (e as Error).message;
    }
    const answers = await guessers.answers();
    await o.after?.(h);
    return { ms, error, answers, refused: (r: Parameters<Harness['broker']['counters']['refused']>[0]) => h.broker.counters.refused(r), metrics: () => h.metrics.metrics() };
  } finally {
    await h.close();
  }
}
