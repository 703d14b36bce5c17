/**
 * Fan-out with a reference: `node --import tsx bench/fanout-compare.ts [connections]` (default
 * 10,000). Runs bench/fanout.ts (one alert to N residents over MQTT-over-WebSocket from the
 * platform's broker; its lines are passed through unchanged), then the same alert to N subscribers
 * of Debian mosquitto over plain TCP in the same run, and prints mosquitto's figures and the ratios
 * platform/mosquitto.
 *
 * Mosquitto side: the subscribers are raw TCP sockets speaking minimal MQTT 3.1.1 (mqtt-packet),
 * like fanout.ts's residents, split over FANOUT_PROCS child processes (default 2; env
 * BENCH_FANOUT_PROCS): 10,000 clients read by one event loop put that loop's own work inside the
 * measured latency, and fanout.ts's residents are all in one process, so compare the "client CPU"
 * lines: a side near 100 % of a core set the pace itself. Latency is receipt − publish on the
 * machine's shared clock (performance.timeOrigin + performance.now() in each process). Two rounds
 * like fanout.ts: the first alert, then an update right after (warm).
 *
 * Limits: every loop bounded by count and a deadline (DEADLINE_MS); loopback only; mosquitto's
 * config in a temp dir; children killed on exit.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { askChild } from './child-ipc.ts';
import mqttPacket from 'mqtt-packet';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { percentiles } from './load.ts';
import { startMosquitto } from './reference.ts';
import { countArg, note, print } from './report.ts';

const DEFAULT_CONNECTIONS = 10_000;
const DEADLINE_MS = 180_000;
const CONNECT_CONCURRENCY = 200;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const DELIVERY_TIMEOUT_MS = 30_000;
const TOPIC_FILTER = 'huewatch/v1/alerts/kim-long/#';
const TOPIC = 'huewatch/v1/alerts/kim-long/flood_kim-long';
const now = () => performance.timeOrigin + performance.now();
// Ctrl-C or a kill: exit through process.exit so the 'exit' handlers kill the children (servers, platform, load)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

type ToSub = { cmd: 'open'; url: string; from: number; count: number } | { cmd: 'arm'; round: number } | { cmd: 'report' } | { cmd: 'close' };
type FromSub =
  | { type: 'opened'; ok: number; failures: Array<[string, number]> }
  | { type: 'armed' }
  | { type: 'received'; round: number; count: number }
  | { type: 'report'; round: number; arrivals: number[]; cpuMicros: number }
  | { type: 'closed' };

// ---------------------------------------------------------------------------------------------
// subscriber child

/** What a subscriber needs of its connection: raw TCP (mosquitto) or WebSocket (our broker). */
interface Transport {
  on(event: 'connect' | 'close', fn: () => void): unknown;
  on(event: 'data', fn: (d: Buffer) => void): unknown;
  on(event: 'error', fn: (err: NodeJS.ErrnoException) => void): unknown;
  write(b: Buffer): unknown;
  end(b: Buffer): unknown;
  destroy(): unknown;
}

/** A WebSocket (subprotocol mqtt) dressed as the socket the subscriber code speaks to. */
function wsTransport(url: string): Transport {
  const ws = new WebSocket(url, 'mqtt', { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
  const t: Transport = {
    on(event: string, fn: (...args: never[]) => void) {
      const listener = fn as (...args: unknown[]) => void;
      if (event === 'connect') ws.on('open', listener);
      else if (event === 'data') ws.on('message', listener);
      else ws.on(event, listener);
      return t;
    },
    write: (b: Buffer) => ws.send(b),
    end: (b: Buffer) => (ws.readyState === ws.OPEN ? ws.send(b, () => ws.close()) : undefined),
    destroy: () => ws.terminate(),
  };
  return t;
}

async function subscriberChild(): Promise<void> {
  const send = (m: FromSub) => process.send?.(m);
  const sockets: Transport[] = [];
  let round = 0;
  let arrivals: number[] = [];
  let cpu0 = process.cpuUsage();
  let expected = 0;
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (raw: unknown) => {
    const m = raw as ToSub;
    if (m.cmd === 'open') {
      const failures = new Map<string, number>();
      const u = new URL(m.url);
      const open = (i: number) =>
        new Promise<void>((resolve) => {
          const s = u.protocol === 'ws:' ? wsTransport(m.url) : connect({ host: u.hostname, port: Number(u.port), noDelay: true });
          const parser = mqttPacket.parser({ protocolVersion: 4 });
          let settled = false;
          const settle = (why?: string) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (why) {
              failures.set(why, (failures.get(why) ?? 0) + 1);
              s.destroy();
            } else {
              sockets.push(s);
              expected++;
            }
            resolve();
          };
          const timer = setTimeout(() => settle('handshake timeout'), HANDSHAKE_TIMEOUT_MS);
          s.on('connect', () => s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 600, clientId: `ref-res-${process.pid}-${i}` })));
          s.on('data', (d) => parser.parse(d));
          s.on('error', (err: NodeJS.ErrnoException) => settle(`socket ${err.code ?? err.message}`));
          s.on('close', () => settle('closed during handshake'));
          parser.on('packet', (p: mqttPacket.Packet) => {
            if (p.cmd === 'connack') {
              if (p.returnCode !== 0) return settle(`CONNACK ${p.returnCode}`);
              s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC_FILTER, qos: 1 }] }));
            } else if (p.cmd === 'suback') {
              if (p.granted[0] !== 1) return settle(`SUBACK ${String(p.granted[0])}`);
              settle();
            } else if (p.cmd === 'publish') {
              if (round > 0 && !p.retain) {
                arrivals.push(now());
                if (arrivals.length === expected) send({ type: 'received', round, count: arrivals.length });
              }
              if (p.qos === 1 && p.messageId !== undefined) s.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }));
            }
          });
        });
      let next = m.from;
      const end = m.from + m.count;
      await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, m.count) }, async () => {
        while (next < end) await open(next++);
      }));
      send({ type: 'opened', ok: sockets.length, failures: [...failures] });
    } else if (m.cmd === 'arm') {
      round = m.round;
      arrivals = [];
      cpu0 = process.cpuUsage();
      send({ type: 'armed' });
    } else if (m.cmd === 'report') {
      const c = process.cpuUsage(cpu0);
      send({ type: 'report', round, arrivals, cpuMicros: c.user + c.system });
    } else if (m.cmd === 'close') {
      const disconnect = mqttPacket.generate({ cmd: 'disconnect' });
      for (const s of sockets) s.end(disconnect);
      await sleep(500);
      for (const s of sockets) s.destroy();
      send({ type: 'closed' });
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// parent

function ask<T extends FromSub['type']>(child: ChildProcess, msg: ToSub | undefined, type: T, ms: number): Promise<Extract<FromSub, { type: T }>> {
  return askChild<FromSub, T>(child, msg, type, ms, 'subscriber child');
}

/** Runs bench/fanout.ts n, passing its output through; returns its `name value unit` figures. */
async function platformFanout(n: number): Promise<Map<string, number>> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./fanout.ts', import.meta.url)), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killIt = () => child.kill('SIGKILL');
  process.once('exit', killIt);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    process.stdout.write(d);
    out += d.toString();
  });
  const timer = setTimeout(killIt, DEADLINE_MS + 60_000);
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  clearTimeout(timer);
  process.off('exit', killIt);
  const figures = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^(.*?)\s{2,}\s*(-?[\d.]+|NaN)\s+(\S.*)?$/.exec(line);
    if (m) figures.set(m[1]!.trim(), Number(m[2]));
  }
  return figures;
}

interface FanoutTarget {
  /** where the subscribers connect (mqtt:// raw TCP, ws:// WebSocket) */
  subscribeUrl: string;
  /** where the publisher connects, with what credentials */
  publishUrl: string;
  publisher: mqtt.IClientOptions;
  stop(): Promise<void>;
}

/** Debian mosquitto, anonymous, plain TCP. */
async function mosquittoTarget(): Promise<FanoutTarget> {
  const m = await startMosquitto();
  return { subscribeUrl: m.url, publishUrl: m.url, publisher: { clientId: 'ref-publisher' }, stop: () => m.stop() };
}

/**
 * Our broker (broker/test-harness.ts: our auth and ACL) in a child process of its own, started by
 * bench/fanout.ts's broker-child mode; residents over WebSocket, the rules service publishing.
 */
async function platformBrokerTarget(): Promise<FanoutTarget> {
  const child = fork(fileURLToPath(new URL('./fanout.ts', import.meta.url)), ['--broker-child'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killer = () => child.kill('SIGKILL');
  process.once('exit', killer);
  const ready = await askChild<{ type: 'ready'; mqttUrl: string; wsUrl: string }, 'ready'>(child, undefined, 'ready', 30_000, 'broker child');
  return {
    subscribeUrl: ready.wsUrl,
    publishUrl: ready.mqttUrl,
    publisher: { clientId: 'svc-rules-bench', username: 'svc-rules', password: 'svc-secret-rules' },
    async stop() {
      await askChild<{ type: 'stopped' }, 'stopped'>(child, { cmd: 'stop' }, 'stopped', 15_000, 'broker child').catch(() => undefined);
      if (child.exitCode === null) child.kill('SIGKILL');
      process.off('exit', killer);
    },
  };
}

async function splitFanout(n: number, procs: number, payloadBytes: number, target: FanoutTarget) {
  const started = Date.now();
  const left = () => Math.max(1, started + DEADLINE_MS - Date.now());
  const m = target;
  const children: ChildProcess[] = [];
  let publisher: mqtt.MqttClient | undefined;
  try {
    for (let k = 0; k < procs; k++) children.push(fork(fileURLToPath(import.meta.url), ['--subscriber-child'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    for (const c of children) {
      const killer = () => c.kill('SIGKILL');
      process.once('exit', killer);
      c.once('exit', () => process.off('exit', killer));
    }
    const per = Math.ceil(n / procs);
    const setup0 = performance.now();
    const opened = await Promise.all(children.map((c, k) => ask(c, { cmd: 'open', url: m.subscribeUrl, from: k * per, count: Math.max(0, Math.min(per, n - k * per)) }, 'opened', left())));
    const setupS = (performance.now() - setup0) / 1000;
    const subscribed = opened.reduce((a, o) => a + o.ok, 0);
    for (const o of opened) for (const [why, count] of o.failures) note(`mosquitto subscriber failure: ${why} × ${count}`);
    publisher = await mqtt.connectAsync(m.publishUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...m.publisher });
    (publisher.stream as unknown as Socket).setNoDelay?.(true);
    await sleep(200);
    const body = JSON.stringify({ bench: 'fan-out, subscribers split over processes', pad: '' });
    const payload = Buffer.from(body.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, payloadBytes - body.length))}"`));
    const rounds: Array<{ received: number; p50: number; p99: number; max: number; complete: boolean; clientCpuPct: number[] }> = [];
    for (let round = 1; round <= 2; round++) {
      await Promise.all(children.map((c) => ask(c, { cmd: 'arm', round }, 'armed', 10_000)));
      const waits = children.map((c, k) => ask(c, undefined, 'received', Math.min(DELIVERY_TIMEOUT_MS, left())).then(() => true, () => opened[k]!.ok === 0));
      const t0 = now();
      await publisher.publishAsync(TOPIC, payload, { qos: 1, retain: true });
      const complete = (await Promise.all(waits)).every(Boolean);
      const wallMs = now() - t0;
      const reports = await Promise.all(children.map((c) => ask(c, { cmd: 'report' }, 'report', 10_000)));
      const lat = reports.flatMap((r) => r.arrivals.map((a) => a - t0));
      const p = percentiles(lat);
      rounds.push({ received: p.count, p50: p.p50, p99: p.p99, max: p.max, complete, clientCpuPct: reports.map((r) => (100 * r.cpuMicros) / 1000 / wallMs) });
    }
    return { subscribed, setupS, rounds, payloadBytes: payload.length };
  } finally {
    await publisher?.endAsync(true).catch(() => undefined);
    await Promise.all(children.map((c) => (c.exitCode === null && c.connected ? ask(c, { cmd: 'close' }, 'closed', 15_000).catch(() => undefined) : undefined)));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await m.stop();
  }
}
type SplitResult = Awaited<ReturnType<typeof splitFanout>>;

function printRounds(who: string, r: SplitResult): void {
  print(`${who}: connections subscribed`, r.subscribed, 'conn');
  print(`${who}: setup time`, r.setupS, 's');
  r.rounds.forEach((round, i) => {
    const label = i === 0 ? 'fan-out' : 'fan-out warm (2nd alert)';
    if (!round.complete) note(`${who} ${label}: only ${round.received} of ${r.subscribed} had the alert within the wait`);
    print(`${who}: ${label} received`, round.received, 'conn');
    for (const [k, key] of [['p50', 'p50'], ['p99', 'p99'], ['max', 'max (last one has it)']] as const) print(`${who}: ${label} ${key}`, round[k], 'ms');
    round.clientCpuPct.forEach((pct, j) => print(`${who}: ${label} subscriber process ${j + 1} CPU`, pct, '% of a core'));
  });
}

function printRatios(name: string, a: SplitResult, b: SplitResult): void {
  a.rounds.forEach((round, i) => {
    const label = i === 0 ? 'fan-out' : 'fan-out warm (2nd alert)';
    for (const [k, key] of [['p50', 'p50'], ['p99', 'p99'], ['max', 'max (last one has it)']] as const) print(`ratio ${name}: ${label} ${key}`, round[k] / (b.rounds[i]?.[k] ?? NaN), '×');
  });
}

async function main(): Promise<number> {
  const n = countArg('connections', process.argv[2], DEFAULT_CONNECTIONS, 100_000);
  const procs = countArg('BENCH_FANOUT_PROCS', process.env.BENCH_FANOUT_PROCS, 2, 16);
  // 1. bench/fanout.ts as it is: our broker, every resident in one process (its own figures)
  const platform = await platformFanout(n);
  const payloadBytes = platform.get('alert payload') ?? 1000;
  // 2. like for like: the same subscriber children, split over `procs` processes, against our
  //    broker over WebSocket and against Debian mosquitto over TCP, the same payload size
  note(`like for like: ${n} raw MQTT 3.1.1 subscribers split over ${procs} child processes; our broker over WebSocket, Debian mosquitto over TCP`);
  const ours = await splitFanout(n, procs, payloadBytes, await platformBrokerTarget());
  printRounds('platform broker (split subscribers)', ours);
  const ref = await splitFanout(n, procs, payloadBytes, await mosquittoTarget());
  printRounds('mosquitto', ref);
  printRatios('platform (split)/mosquitto', ours, ref);
  ref.rounds.forEach((round, i) => {
    const label = i === 0 ? 'fan-out' : 'fan-out warm (2nd alert)';
    print(`ratio platform (one process)/mosquitto: ${label} max (last one has it)`, (platform.get(`${label} max (last one has it)`) ?? NaN) / round.max, '×');
  });
  return ref.subscribed === n && ours.subscribed === n ? 0 : 1;
}

if (process.argv[2] === '--subscriber-child') await subscriberChild();
else process.exitCode = await main();
