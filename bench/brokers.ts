/**
 * One broker against two: `node --import tsx bench/brokers.ts [seconds]` (or BENCH_SECONDS;
 * default 10 s of load per run). Telemetry published per second by 50 devices (MQTT.js, QoS 1, 10
 * in flight each; the per-device quota turned off: the broker's capacity, not the devices' allowance) and delivered to ingest (`$share/ingest/huewatch/v1/telemetry/+`, persistent
 * session as the platform's ingest, one member per broker), through HueWatch brokers
 * (bench/broker-child.ts, each a process of its own) with their state
 *   - in memory (aedes' default, what the broker had before),
 *   - on disk (LevelDB, the single-node default now),
 *   - in Redis (Debian redis-server; REDIS_URL), one broker, then two sharing it, the devices
 *     split between them.
 * For each: published/s (acknowledged), delivered/s, and the CPU of each broker, of redis-server
 * and of this process (the devices and the ingest subscribers): a side near 100 % of a core is
 * what limits the run. Every loop is bounded by the run's deadline; loopback only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { startRedis, type RedisServer } from '../test/redis-server.ts';
import { askChild } from './child-ipc.ts';
import { connectDevice } from './load.ts';
import { countArg, note, print } from './report.ts';

const SECONDS = countArg('bench/brokers.ts seconds', process.argv[2] ?? process.env.BENCH_SECONDS, 10, 600);
const DEVICES = 50;
const WINDOW = 10;
const FILTER = '$share/ingest/huewatch/v1/telemetry/+';
const CHILD = fileURLToPath(new URL('./broker-child.ts', import.meta.url));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

type FromBroker = { type: 'ready'; port: number } | { type: 'cpu'; micros: number };
interface Run { name: string; brokers: number; state: 'memory' | 'level' | 'redis' }
const RUNS: Run[] = [
  { name: '1 broker, memory', brokers: 1, state: 'memory' },
  { name: '1 broker, on disk (LevelDB)', brokers: 1, state: 'level' },
  { name: '1 broker, Redis', brokers: 1, state: 'redis' },
  { name: '2 brokers, Redis', brokers: 2, state: 'redis' },
];

/** user + system CPU seconds of a process, from /proc (clock ticks of 1/100 s) */
const procCpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

async function startBroker(run: Run, redis: RedisServer | undefined): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_DEVICES: String(DEVICES), BENCH_STATE: run.state, ...(redis ? { BENCH_REDIS_URL: redis.url } : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const ready = await askChild<FromBroker, 'ready'>(child, undefined, 'ready', 60_000, 'broker');
  return { child, port: ready.port };
}

async function measure(run: Run): Promise<void> {
  const redis = run.state === 'redis' ? await startRedis() : undefined;
  const brokers: Array<{ child: ChildProcess; port: number }> = [];
  const clients: MqttClient[] = [];
  try {
    for (let i = 0; i < run.brokers; i++) brokers.push(await startBroker(run, redis));
    const url = (i: number) => `mqtt://127.0.0.1:${brokers[i % brokers.length]!.port}`;
    let delivered = 0;
    for (let i = 0; i < brokers.length; i++) {
      const ingest = await mqtt.connectAsync(url(i), { clientId: `svc-ingest-bench-${i}`, username: 'svc-ingest', password: 'bench-svc-ingest', clean: false, reconnectPeriod: 0 });
      ingest.on('message', () => { delivered++; });
      await ingest.subscribeAsync(FILTER, { qos: 1 });
      clients.push(ingest);
    }
    // a few logins at a time: the broker refuses more than 8 pending password checks per address (CONNACK 3)
    const devices: MqttClient[] = [];
    for (let i = 0; i < DEVICES; i += 4) {
      devices.push(...await Promise.all([i, i + 1, i + 2, i + 3].filter((j) => j < DEVICES).map((j) => connectDevice(url(j), { id: `bench-${j}`, secret: 'bench-secret' }))));
      clients.push(...devices.slice(-4));
    }

    const cpu0 = { me: process.cpuUsage(), redis: redis ? procCpu(redis.pid) : 0 };
    await Promise.all(brokers.map((b) => askChild<FromBroker, 'cpu'>(b.child, { cmd: 'cpu' }, 'cpu', 10_000, 'broker')));
    const brokerCpu0 = await Promise.all(brokers.map(async (b) => (await askChild<FromBroker, 'cpu'>(b.child, { cmd: 'cpu' }, 'cpu', 10_000, 'broker')).micros));
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    const delivered0 = delivered;
    let acked = 0;
    let seq = 0;
    // each device keeps WINDOW messages in flight until the deadline
    await Promise.all(devices.map(async (d, i) => {
      const lane = async () => {
        while (performance.now() < deadline) {
          const n = ++seq;
          await d.publishAsync(`huewatch/v1/telemetry/bench-${i}`, JSON.stringify({ ts: 1_700_000_000_000 + n, seq: n, m: { water_level: 1.5 } }), { qos: 1 });
          acked++;
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, lane));
    }));
    const elapsed = (performance.now() - t0) / 1000;
    const deliveredInRun = delivered - delivered0;
    const brokerCpu = await Promise.all(brokers.map(async (b, i) => ((await askChild<FromBroker, 'cpu'>(b.child, { cmd: 'cpu' }, 'cpu', 10_000, 'broker')).micros - brokerCpu0[i]!) / 1e6));
    const me = process.cpuUsage(cpu0.me);
    print(`${run.name}: published (acknowledged)`, acked / elapsed, 'msg/s');
    print(`${run.name}: delivered to ingest`, deliveredInRun / elapsed, 'msg/s');
    brokerCpu.forEach((s, i) => print(`${run.name}: broker ${i + 1} CPU`, (100 * s) / elapsed, '% of a core'));
    if (redis) print(`${run.name}: redis-server CPU`, (100 * (procCpu(redis.pid) - cpu0.redis)) / elapsed, '% of a core');
    print(`${run.name}: devices + ingest (this process) CPU`, (100 * (me.user + me.system)) / 1e6 / elapsed, '% of a core');
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    for (const b of brokers) {
      b.child.send({ cmd: 'close' });
      await new Promise((r) => { b.child.once('exit', r); setTimeout(r, 10_000); });
      b.child.kill('SIGKILL');
    }
    await redis?.stop();
  }
}

note(`brokers: ${DEVICES} devices, QoS 1, ${WINDOW} in flight each, ${SECONDS} s per run; ingest on ${FILTER} (persistent session), one member per broker`);
note(`this machine: ${(await import('node:os')).availableParallelism()} cores shared by the brokers, redis-server and this process`);
for (const run of RUNS) await measure(run);
note('read the CPU lines: a process near 100 % of a core set the pace. Where none is, the run is bound by the latency of');
note("a message's path: aedes reads a device's next packets only once the last ones are stored and routed, and with Redis");
note('each message waits for round trips in turn: queued for the ingest session (aedes-persistence-redis), PUBLISHed to every');
note('broker (mqemitter-redis), and once more to the chosen member of $share/ingest. A second broker on the same cores adds');
note('round trips per message, not capacity: two brokers help where they have cores (and a Redis) of their own.');
process.exit(0);
