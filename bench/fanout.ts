/**
 * Alert fan-out bench: `node --import tsx bench/fanout.ts [connections]` (default 10,000).
 *
 * N residents connect anonymously over MQTT-over-WebSocket (ws://127.0.0.1:<wsPort>/mqtt) to our
 * broker (broker/test-harness.ts: our auth and ACL) and subscribe at QoS 1 to
 * `huewatch/v1/alerts/kim-long/#`. Once every one has its SUBACK, the rules service account
 * publishes one alert (QoS 1, retained) and each connection records when the PUBLISH reached it.
 * Prints one `name  value unit` line per figure (compare runs; never pass/fail).
 *
 * Layout:
 * - The broker runs in a CHILD process (this same file with `--broker-child`), so its RSS and heap
 *   before/after connecting are the broker's alone, not mixed with 10,000 client sockets. The
 *   child runs with --expose-gc and collects garbage before each memory sample.
 * - The residents are raw `ws` WebSocket clients speaking minimal MQTT 3.1.1 (CONNECT, SUBSCRIBE,
 *   PUBACK, DISCONNECT; parsing with `mqtt-packet`), not MQTT.js clients. An MQTT.js client per
 *   connection carries its own stream pipeline, in/out stores, keepalive and reconnect timers and
 *   topic-alias maps; at 10,000 in one process on this 2-core machine that is several hundred MB
 *   and, worse, the client process' own per-message work lands inside the latency being measured.
 *   A ws socket plus one mqtt-packet parser is the least a real resident costs the broker and
 *   keeps the measuring process light. The publisher (one connection) is MQTT.js over TCP, as the
 *   rules service connects, with Nagle off (FACTS.md).
 * - Both sides share one clock: the publisher and the residents are in this process, so the
 *   latency is `performance.now()` at receipt minus `performance.now()` just before publish.
 *   It includes this process' time to read 10,000 WebSocket frames on one event loop (the tail
 *   is partly the client side; on 2 cores the broker child and this process each get about one).
 *
 * Limits: every loop is bounded by a count and by an overall deadline (DEADLINE_MS); connects go
 * in with at most CONNECT_CONCURRENCY handshakes in flight. Loopback only: when one source address
 * could run short of ephemeral ports the client sockets are spread over 127.0.0.2, 127.0.0.3, …
 * (`localAddress`), never any other address.
 */
import { fork, execSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { askChild } from './child-ipc.ts';
import WebSocket from 'ws';
import mqttPacket from 'mqtt-packet';
import { connectAsync } from 'mqtt';
import { alertEvent, type AlertEvent } from '../contract/alert.ts';
import { subscriptions, topics } from '../contract/topics.ts';

const DEFAULT_CONNECTIONS = 10_000;
const MAX_CONNECTIONS = 100_000;
/** the whole run, setup to clean-up, is cut short past this */
const DEADLINE_MS = 120_000;
/** WebSocket+CONNECT+SUBSCRIBE handshakes in flight at once */
const CONNECT_CONCURRENCY = 200;
/** one handshake (ws open → CONNACK → SUBACK) */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** after publishing, how long to wait for the last resident */
const DELIVERY_TIMEOUT_MS = 30_000;
/** longer than the run, so no PINGREQ is ever due (DEADLINE_MS bounds the run) */
const KEEPALIVE_S = 300;
/** sockets per loopback source address before spreading to the next one */
const PER_SOURCE_ADDRESS = 5_000;
/** file descriptors besides the sockets (node, tsx, the broker's listeners, stdio) */
const FD_HEADROOM = 256;
const AREA = 'kim-long';

/** a timeout for Promise.race that does not keep the process alive once the race is decided */
const giveUp = (ms: number) => sleep(ms, undefined, { ref: false });

// ---------------------------------------------------------------------------------------------
// Broker child: starts the harness, answers memory requests over IPC, stops on request.

type ToChild = { cmd: 'mem' } | { cmd: 'cpu' } | { cmd: 'stop' };
type Mem = { rss: number; heapUsed: number; external: number; clients: number };
type FromChild = { type: 'ready'; mqttUrl: string; wsUrl: string } | { type: 'mem'; mem: Mem } | { type: 'cpu'; micros: number } | { type: 'stopped' };

async function brokerChild(): Promise<void> {
  const { startHarness } = await import('../broker/test-harness.ts');
  const send = (m: FromChild) => process.send?.(m);
  const gc = (globalThis as { gc?: () => void }).gc;
  const h = await startHarness([]);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.race([h.close(), giveUp(10_000)]);
    send({ type: 'stopped' });
    process.disconnect?.();
    process.exit(0);
  };
  process.on('disconnect', () => void stop()); // the bench went away: never outlive it
  process.on('message', (raw: unknown) => {
    const m = raw as ToChild;
    if (m.cmd === 'stop') void stop();
    else if (m.cmd === 'cpu') {
      const c = process.cpuUsage();
      send({ type: 'cpu', micros: c.user + c.system });
    } else if (m.cmd === 'mem') {
      gc?.();
      gc?.();
      const u = process.memoryUsage();
      send({ type: 'mem', mem: { rss: u.rss, heapUsed: u.heapUsed, external: u.external, clients: h.broker.counters.clients } });
    }
  });
  send({ type: 'ready', mqttUrl: h.mqttUrl, wsUrl: h.wsUrl });
}

// ---------------------------------------------------------------------------------------------
// Bench (parent)

const print = (name: string, value: number | string, unit = '') => {
  const v = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 10 ? 2 : Math.abs(value) < 100 ? 1 : 0)) : value;
  process.stdout.write(`${name.padEnd(46)} ${v.padStart(10)} ${unit}\n`);
};
const note = (s: string) => process.stderr.write(`# ${s}\n`);

function parseConnections(arg: string | undefined): number {
  if (arg === undefined) return DEFAULT_CONNECTIONS;
  const n = Number(arg);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS) {
    process.stderr.write(`usage: node --import tsx bench/fanout.ts [connections 1..${MAX_CONNECTIONS}]\n`);
    process.exit(2);
  }
  return n;
}

function openFileLimit(): number | undefined {
  try {
    const out = execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  } catch {
    return undefined;
  }
}

function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && hi > lo) return hi - lo + 1;
  } catch {
    /* not Linux: assume the IANA range */
  }
  return 16_384;
}

/** Loopback source addresses for the client sockets; undefined = let the kernel choose. */
function sourceAddresses(n: number): Array<string | undefined> {
  const perAddress = Math.min(PER_SOURCE_ADDRESS, Math.floor(ephemeralPorts() / 2));
  const count = Math.ceil(n / perAddress);
  if (count <= 1) return [undefined];
  if (count > 250) throw new Error(`${n} connections need ${count} loopback source addresses; at most 250 are used`);
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
}

function request<T extends FromChild['type']>(child: ChildProcess, msg: ToChild | undefined, type: T, ms: number): Promise<Extract<FromChild, { type: T }>> {
  return askChild<FromChild, T>(child, msg, type, ms, 'broker child');
}

interface Resident {
  ws: WebSocket;
  /** holds a granted subscription */
  ready: boolean;
}

function alertPayload(seq: number): Buffer {
  const now = new Date();
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
  const ev: AlertEvent = {
    id: 'bench-flood-kim-long-1',
    key: `flood:${AREA}`,
    eventSeq: seq,
    msgType: seq === 1 ? 'Alert' : 'Update',
    status: 'active',
    event: { vi: 'Lũ', en: 'Flood' },
    category: 'Met',
    severity: 'Severe',
    urgency: 'Immediate',
    certainty: 'Observed',
    level: 2,
    headline: { vi: 'Báo động lũ cấp 2 tại Kim Long', en: 'Flood alarm level 2 at Kim Long' },
    description: { vi: 'Mực nước sông Hương tại Kim Long vượt báo động 2.', en: 'The Perfume River at Kim Long is above alarm level 2.' },
    instruction: { vi: 'Di chuyển người và tài sản lên cao.', en: 'Move people and belongings to higher ground.' },
    area: { name: { vi: 'Kim Long', en: 'Kim Long' }, codes: [AREA] },
    source: { station: 'kl-01', metric: 'water_level', value: 3.12, threshold: 3.0, observedAt: iso(now) },
    sent: iso(now),
    firstSent: iso(now),
    expires: null,
  };
  return Buffer.from(JSON.stringify(alertEvent.parse(ev)));
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function bench(): Promise<number> {
  const n = parseConnections(process.argv[2]);
  const started = Date.now();
  const deadline = started + DEADLINE_MS;
  const left = () => Math.max(0, deadline - Date.now());

  // Each process (this one with the client sockets, the broker child with the server sockets)
  // needs about n descriptors under the same inherited limit.
  const limit = openFileLimit();
  if (limit === undefined) note('could not read the open-file limit (ulimit -n); continuing');
  else if (limit < n + FD_HEADROOM) {
    process.stderr.write(
      `open-file limit too low: ulimit -n is ${limit}, ${n} connections need at least ${n + FD_HEADROOM} ` +
        `in each of the two processes. Raise it in your shell (e.g. \`ulimit -n ${n + 1024}\`, up to the hard ` +
        `limit \`ulimit -Hn\`) or run with fewer connections: node --import tsx bench/fanout.ts ${Math.max(1, limit - FD_HEADROOM)}\n`,
    );
    return 1;
  }
  const sources = sourceAddresses(n);

  const child = fork(fileURLToPath(import.meta.url), ['--broker-child'], {
    // BENCH_PROF_DIR: the broker under --cpu-prof, as platform-child.ts does for the platform
    execArgv: [...process.execArgv, '--expose-gc', ...(process.env.BENCH_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`, '--cpu-prof-interval=200'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const residents: Resident[] = [];
  let publisher: Awaited<ReturnType<typeof connectAsync>> | undefined;
  try {
    const { mqttUrl, wsUrl } = await request(child, undefined, 'ready', 30_000);
    note(`broker child ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const memBefore = (await request(child, { cmd: 'mem' }, 'mem', 10_000)).mem;
    const clientRssBefore = process.memoryUsage().rss;

    // ------------------------------------------------------------------ setup
    const latency = new Float64Array(n).fill(NaN);
    let t0 = NaN;
    let received = 0;
    let onAllReceived: (() => void) | undefined;
    let subscribed = 0;
    /** residents whose connection closed after their SUBACK, before the clean-up */
    let dropped = 0;
    let cleaningUp = false;
    const failures = new Map<string, number>();
    const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
    const connectPkt = (i: number) =>
      mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: KEEPALIVE_S, clientId: `res-${process.pid}-${i}` });
    const subscribePkt = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: subscriptions.areaAlerts(AREA), qos: 1 }] });

    /** Opens one resident; resolves once it holds a granted subscription, or with the failure. */
    const open = (i: number): Promise<void> =>
      new Promise((resolve) => {
        const localAddress = sources[i % sources.length];
        const ws = new WebSocket(wsUrl, 'mqtt', { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, ...(localAddress ? { localAddress } : {}) });
        const r: Resident = { ws, ready: false };
        residents.push(r);
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        let settled = false;
        const settle = (why?: string) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (why) {
            fail(why);
            ws.terminate();
          } else {
            r.ready = true;
            subscribed++;
          }
          resolve();
        };
        const timer = setTimeout(() => settle('handshake timeout'), HANDSHAKE_TIMEOUT_MS);
        ws.on('open', () => ws.send(connectPkt(i)));
        ws.on('message', (data) => parser.parse(data as Buffer)); // binaryType 'nodebuffer': always one Buffer
        ws.on('error', (err: NodeJS.ErrnoException) => settle(`ws error ${err.code ?? err.message}`));
        ws.on('close', () => {
          if (r.ready && !cleaningUp) dropped++;
          settle('closed during handshake');
        });
        parser.on('error', (err: Error) => settle(`parse error ${err.message}`));
        parser.on('packet', (p: mqttPacket.Packet) => {
          if (p.cmd === 'connack') {
            if (p.returnCode !== 0) return settle(`CONNACK ${p.returnCode}`);
            ws.send(subscribePkt);
          } else if (p.cmd === 'suback') {
            if (p.granted[0] !== 1) return settle(`SUBACK ${String(p.granted[0])}`);
            settle();
          } else if (p.cmd === 'publish') {
            if (Number.isNaN(latency[i]!)) {
              latency[i] = performance.now() - t0;
              received++;
              if (received === subscribed) onAllReceived?.();
            }
            if (p.qos === 1 && p.messageId !== undefined) ws.send(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }));
          }
        });
      });

    const setupStart = performance.now();
    let next = 0;
    const worker = async () => {
      // bounded: each worker takes at most n indices and stops at the deadline
      while (next < n && left() > 0) await open(next++);
    };
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, n) }, worker));
    const setupS = (performance.now() - setupStart) / 1000;

    const memAfter = (await request(child, { cmd: 'mem' }, 'mem', 10_000)).mem;
    const clientRssAfter = process.memoryUsage().rss;

    // ------------------------------------------------------------------ fan-out
    publisher = await connectAsync(mqttUrl, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      clientId: 'svc-rules-bench',
      username: 'svc-rules',
      password: 'svc-secret-rules',
    });
    (publisher.stream as unknown as Socket).setNoDelay?.(true); // Nagle off on the alert path (FACTS.md)
    await sleep(200); // let the publisher's own CONNACK traffic settle before the clock starts
    const pub = publisher;

    /**
     * One alert to every subscribed resident. Round 1 is the measured alert (the broker's and the
     * residents' delivery code has not run yet, as after a quiet spell); round 2, an Update of the
     * same alert right after, shows the same fan-out with that code warm.
     */
    const fanOut = async (seq: number) => {
      latency.fill(NaN);
      received = 0;
      const payload = alertPayload(seq);
      const allReceived = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(1, Math.min(DELIVERY_TIMEOUT_MS, left())));
        onAllReceived = () => {
          clearTimeout(timer);
          resolve(true);
        };
        if (subscribed === 0) onAllReceived();
      });
      const brokerCpu0 = (await request(child, { cmd: 'cpu' }, 'cpu', 5_000)).micros;
      const benchCpu0 = process.cpuUsage();
      t0 = performance.now();
      const pubacked = pub.publishAsync(topics.alert(AREA, `flood:${AREA}`), payload, { qos: 1, retain: true }).then(() => performance.now() - t0);
      const complete = await allReceived;
      const wallMs = performance.now() - t0;
      const benchCpu = process.cpuUsage(benchCpu0);
      const brokerCpuMs = ((await request(child, { cmd: 'cpu' }, 'cpu', 5_000).catch(() => ({ micros: NaN }))).micros - brokerCpu0) / 1000;
      const pubackMs = await Promise.race([pubacked, giveUp(Math.max(1, Math.min(5_000, left()))).then(() => NaN)]);
      const got = new Float64Array(received);
      let k = 0;
      for (let i = 0; i < n && k < received; i++) if (!Number.isNaN(latency[i]!)) got[k++] = latency[i]!;
      got.sort();
      return {
        complete,
        payloadBytes: payload.length,
        received,
        p50: percentile(got, 50),
        p99: percentile(got, 99),
        max: got.length > 0 ? got[got.length - 1]! : NaN,
        pubackMs,
        brokerCpuPct: (100 * brokerCpuMs) / wallMs,
        benchCpuPct: (100 * (benchCpu.user + benchCpu.system)) / 1000 / wallMs,
      };
    };
    const first = await fanOut(1);
    const second = first.complete && left() > 0 ? await fanOut(2) : undefined;

    // ------------------------------------------------------------------ figures
    const perConn = (a: number, b: number) => (subscribed > 0 ? (b - a) / subscribed : NaN);
    print('connections requested', n, 'conn');
    print('connections subscribed', subscribed, 'conn');
    print('connection failures', n - subscribed, 'conn');
    for (const [why, count] of failures) note(`failure: ${why} × ${count}`);
    print('loopback source addresses', sources.length, 'addr');
    print('setup rate (ws+CONNECT+SUBSCRIBE)', subscribed / setupS, 'conn/s');
    print('setup time', setupS, 's');
    print('alert payload', first.payloadBytes, 'bytes');
    const rounds: Array<[string, Awaited<ReturnType<typeof fanOut>> | undefined]> = [
      ['fan-out', first],
      ['fan-out warm (2nd alert)', second],
    ];
    for (const [label, r] of rounds) {
      if (!r) continue;
      print(`${label} received`, r.received, 'conn');
      print(`${label} p50`, r.p50, 'ms');
      print(`${label} p99`, r.p99, 'ms');
      print(`${label} max (last one has it)`, r.max, 'ms');
      print(`${label} publisher PUBACK`, r.pubackMs, 'ms');
      // near 100 % for one side means that side set the pace of the fan-out
      print(`${label} broker CPU`, r.brokerCpuPct, '% of a core');
      print(`${label} bench (client) CPU`, r.benchCpuPct, '% of a core');
    }
    print('broker RSS before (child process)', memBefore.rss / 1e6, 'MB');
    print('broker RSS after subscribe (child process)', memAfter.rss / 1e6, 'MB');
    print('broker RSS per connection', perConn(memBefore.rss, memAfter.rss) / 1024, 'KiB/conn');
    print('broker heapUsed per connection', perConn(memBefore.heapUsed, memAfter.heapUsed) / 1024, 'KiB/conn');
    print('broker external per connection', perConn(memBefore.external, memAfter.external) / 1024, 'KiB/conn');
    print('broker clients seen at subscribe time', memAfter.clients, 'conn');
    print('bench (client) RSS per connection', perConn(clientRssBefore, clientRssAfter) / 1024, 'KiB/conn');
    if (dropped > 0) note(`${dropped} subscribed residents were disconnected before the clean-up`);
    cleaningUp = true;
    for (const [label, r] of rounds) if (r && !r.complete) note(`${label}: only ${r.received} of ${subscribed} subscribed residents had the alert within the wait`);
    if (left() === 0) note(`the ${DEADLINE_MS / 1000} s deadline cut the run short`);
    return subscribed === n && first.complete && second?.complete === true ? 0 : 1;
  } finally {
    // ------------------------------------------------------------------ clean-up
    const cleanupStart = Date.now();
    await publisher?.endAsync(true).catch(() => undefined);
    const closed = residents.map((r) => (r.ws.readyState === WebSocket.CLOSED ? Promise.resolve() : once(r.ws, 'close').then(() => undefined)));
    const disconnect = mqttPacket.generate({ cmd: 'disconnect' });
    for (const r of residents) {
      if (r.ws.readyState === WebSocket.OPEN) {
        r.ws.send(disconnect);
        r.ws.close(1000);
      } else if (r.ws.readyState === WebSocket.CONNECTING) r.ws.terminate();
    }
    const allClosed = await Promise.race([Promise.all(closed).then(() => true), giveUp(10_000).then(() => false)]);
    if (!allClosed) for (const r of residents) if (r.ws.readyState !== WebSocket.CLOSED) r.ws.terminate();
    if (child.exitCode === null && child.connected) {
      await request(child, { cmd: 'stop' }, 'stopped', 15_000).catch((err: Error) => note(err.message));
    }
    const exited = child.exitCode !== null || (await Promise.race([once(child, 'exit').then(() => true), giveUp(5_000).then(() => false)]));
    if (!exited) child.kill('SIGKILL'); // our own child, by its handle
    note(`clean-up took ${((Date.now() - cleanupStart) / 1000).toFixed(1)} s${allClosed ? '' : ' (some sockets had to be terminated)'}`);
  }
}

if (process.argv[2] === '--broker-child') {
  await brokerChild();
} else {
  process.exitCode = await bench();
}
