/**
 * Rules bench (`node --import tsx bench/rules.ts`): figures to compare between runs, not pass/fail.
 * 1. observations evaluated per second by the pure core with the full Huế rule set (no I/O): the
 *    engine's own path (rules indexed by station, rolling windows, dispatch), without the engine;
 * 2. the whole engine fed by `observe()` (as ingest in the same process feeds it), with the embedded
 *    store in memory and the broker's in-process bus: observations per second and batched state
 *    writes per second;
 * 3. latency from an observation published on MQTT to its alert event received, p50/p99, through a
 *    real aedes broker on loopback, the engine and the embedded store (DuckDB in memory).
 * Every loop is bounded in count.
 */
import { createServer, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { Registry } from 'prom-client';
import type { MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import { subscriptions, topics } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { createLocalBus } from '../broker/local-bus.ts';
import { evaluateResult } from '../rules/dispatch.ts';
import { createRulesEngine } from '../rules/engine.ts';
import { initialLevelState, type LevelState } from '../rules/level.ts';
import { loadRuleFile } from '../rules/load.ts';
import { concernsIndexed, indexRules, WindowSet } from '../rules/rule-index.ts';
import { loadStandards } from '../rules/standards.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { print } from './report.ts';

const stations = loadStations(DEFAULT_STATIONS_FILE);
const rules = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
const standards = loadStandards();
const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;

/**
 * One synthetic observation per station per 5 minutes, with a flood wave and a rain burst; `calm`:
 * the same stations on an ordinary day (below every alarm level), the case the hot path is for.
 */
function observationAt(i: number, calm = false): Observation {
  const s = stations[i % stations.length]!;
  const step = Math.floor(i / stations.length);
  const ts = T0 + step * 5 * MIN;
  const wave = Math.sin(step / 40);
  const m: Array<[MetricName, number]> = calm
    ? s.kind === 'river' ? [['water_level', (s.alarmLevels['1'] ?? 1) - 0.6 + 0.05 * wave]]
      : s.kind === 'rain' ? [['rainfall', 0.04 * Math.max(0, wave)]]
        : s.kind === 'air' ? [['pm25', 20 + 5 * wave], ['pm10', 30 + 5 * wave]]
          : [['reservoir_level', 40 + 0.5 * wave], ['inflow', 300 + 20 * wave], ['outflow', 300]]
    : s.kind === 'river' ? [['water_level', (s.alarmLevels['1'] ?? 1) + 1.5 * wave]]
      : s.kind === 'rain' ? [['rainfall', Math.max(0, 6 * wave)]]
        : s.kind === 'air' ? [['pm25', 60 + 50 * wave], ['pm10', 80 + 60 * wave]]
          : [['reservoir_level', 50 + 5 * wave], ['inflow', 800 + 400 * wave], ['outflow', 600]];
  return { station: s.id, device: `${s.id}-1`, ts, values: m.map(([metric, value]) => ({ metric, value, unit: '', quality: 'ok' })) };
}

function benchCore(): void {
  const index = indexRules(rules.rules);
  const windows = new WindowSet(index.needs);
  // one mutable holder per rule, as the engine keeps its records
  const states = new Map<string, { level: LevelState }>();
  for (const r of rules.rules) states.set(r.id, { level: initialLevelState() });
  const ctx = { standards, windowOf: windows.windowOf };
  const N = 200_000;
  let transitions = 0;
  const run = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const obs = observationAt(i);
      windows.add(obs);
      for (const entry of index.of(obs.station)) {
        if (!concernsIndexed(entry, obs)) continue;
        const r = entry.rule;
        const holder = states.get(r.id)!;
        const res = evaluateResult(r, holder.level, obs, ctx, obs.ts);
        if (!res) continue;
        holder.level = res.state;
        if (res.transition) transitions++;
      }
    }
  };
  run(0, 20_000); // warm up
  // CPU time of this process, not wall time: on a shared machine other work would count against it
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  run(20_000, 20_000 + N);
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  print(`pure core, full rule set (${rules.rules.length} rules), one core`, N / ((cpu.user + cpu.system) / 1e6), 'obs/cpu-s');
  print('  same, by wall clock', N / s, 'obs/s');
  print('  transitions seen', transitions, '');
}

/** The engine as the platform runs it: fed by observe(), state in the embedded store, no broker socket. */
async function benchEngine(): Promise<void> {
  const broker = await Aedes.createBroker();
  const bus = createLocalBus(broker);
  const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  let batches = 0;
  let records = 0;
  // counts the batched writes of rule state (the store keeps private fields: methods bound to it)
  const counted = new Proxy(store, {
    get(target, prop) {
      if (prop === 'writeJsonBatch') {
        return (ns: string, changes: ReadonlyArray<{ key: string; value?: unknown }>) => {
          batches++;
          records += changes.length;
          return target.writeJsonBatch(ns, changes);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const clock = { t: T0, now() { return this.t; } };
  const engine = createRulesEngine({ rules, stations, mqtt: bus, subscribeObs: false, state: counted, log: silentLogger(), metrics: new Registry(), clock });
  await engine.start();
  let events = 0;
  engine.events.on('alert', () => events++);
  const N = 300_000;
  const CHUNK = 5_000; // then yield, as a process taking messages from sockets does: timers and writes run
  const obs = Array.from({ length: N }, (_, i) => observationAt(i, true));
  const t0 = performance.now();
  for (let i = 0; i < N; i += CHUNK) {
    for (let j = i; j < Math.min(N, i + CHUNK); j++) {
      clock.t = obs[j]!.ts + 1000;
      engine.observe(obs[j]!);
    }
    await new Promise((r) => setImmediate(r));
  }
  const evaluated = (performance.now() - t0) / 1000;
  await engine.stop(); // drains the alert events and writes the last state
  const s = (performance.now() - t0) / 1000;
  print('engine fed by observe() (calm day), embedded store in memory, one core', N / evaluated, 'obs/s');
  print('  including its alert events and last state write', N / s, 'obs/s');
  print('  alert events (each persisted before published)', events, '');
  print('  rule state batches written', batches / s, '/s');
  print('  rule records written', records / s, '/s');
  await bus.close();
  await store.close();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
}

async function benchLatency(): Promise<void> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  const clock = { t: T0, now() { return this.t; } };
  const mqtt = await connectAsync(url, { clientId: 'rules' });
  const engine = createRulesEngine({ rules, stations, mqtt, state: store, series: store, log: silentLogger(), metrics: new Registry(), clock });
  await engine.start();
  const ingest = await connectAsync(url, { clientId: 'ingest' });
  const resident = await connectAsync(url, { clientId: 'resident' });
  let waiting: ((t: number) => void) | undefined;
  resident.on('message', (topic, payload) => {
    if (topic.endsWith('/flood_kim-long') && payload.length > 0) waiting?.(performance.now());
  });
  await resident.subscribeAsync(subscriptions.allAlerts, { qos: 1 });
  await new Promise((r) => setTimeout(r, 200)); // retained messages of the start drain
  const latencies: number[] = [];
  const CYCLES = 150;
  let step = 0;
  const send = async (value: number, expectEvent: boolean) => {
    const ts = T0 + ++step * 61 * MIN; // > 1 h apart: the rate-of-rise rule stays quiet
    clock.t = ts + 1000;
    const obs: Observation = { station: 'kim-long', device: 'kl-1', ts, values: [{ metric: 'water_level', value, unit: 'm', quality: 'ok' }] };
    const got = expectEvent ? new Promise<number>((resolve) => (waiting = resolve)) : undefined;
    const t0 = performance.now();
    await ingest.publishAsync(topics.obs('kim-long'), JSON.stringify(obs), { qos: 1 });
    if (got) latencies.push((await got) - t0);
    else await new Promise((r) => setTimeout(r, 2));
  };
  const started = performance.now();
  for (let c = 0; c < CYCLES; c++) {
    await send(1.5, true); // raise level 1 (an Alert)
    await send(0.3, false); // below level 1 − hysteresis: the drop waits for holdFall
    await send(0.3, true); // held 61 min ≥ 15 min: Cancel
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  print(`obs published → alert received, p50 (${latencies.length} events)`, q(0.5), 'ms');
  print('obs published → alert received, p99', q(0.99), 'ms');
  print('serial round trips (obs → evaluated → stored → published)', (CYCLES * 3) / elapsed, 'obs/s');
  await engine.stop();
  await Promise.all([mqtt.endAsync(), ingest.endAsync(), resident.endAsync()]);
  await store.close();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

benchCore();
await benchEngine();
await benchLatency();
