/**
 * Rules bench (`node --import tsx bench/rules.ts`): figures to compare between runs, not pass/fail.
 * 1. observations evaluated per second by the pure core with the full Huế rule set (no I/O);
 * 2. latency from an observation published on MQTT to its alert event received, p50/p99, through a
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
import { silentLogger } from '../platform/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { concerns, evaluateRule, windowNeeds } from '../rules/dispatch.ts';
import { createRulesEngine } from '../rules/engine.ts';
import { initialLevelState, type LevelState } from '../rules/level.ts';
import { loadRuleFile } from '../rules/load.ts';
import { loadStandards } from '../rules/standards.ts';
import { push, type Window } from '../rules/window.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { print } from './report.ts';

const stations = loadStations(DEFAULT_STATIONS_FILE);
const rules = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
const standards = loadStandards();
const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;

/** One synthetic observation per station per 5 minutes, with a flood wave and a rain burst. */
function observationAt(i: number): Observation {
  const s = stations[i % stations.length]!;
  const step = Math.floor(i / stations.length);
  const ts = T0 + step * 5 * MIN;
  const wave = Math.sin(step / 40);
  const m: Array<[MetricName, number]> =
    s.kind === 'river' ? [['water_level', (s.alarmLevels['1'] ?? 1) + 1.5 * wave]]
      : s.kind === 'rain' ? [['rainfall', Math.max(0, 6 * wave)]]
        : s.kind === 'air' ? [['pm25', 60 + 50 * wave], ['pm10', 80 + 60 * wave]]
          : [['reservoir_level', 50 + 5 * wave], ['inflow', 800 + 400 * wave], ['outflow', 600]];
  return { station: s.id, device: `${s.id}-1`, ts, values: m.map(([metric, value]) => ({ metric, value, unit: '', quality: 'ok' })) };
}

function benchCore(): void {
  const spans = new Map<string, number>();
  for (const r of rules.rules) for (const n of windowNeeds(r)) spans.set(`${n.station}/${n.metric}`, Math.max(n.span, spans.get(`${n.station}/${n.metric}`) ?? 0));
  const windows = new Map<string, Window>();
  const states = new Map<string, LevelState>();
  const ctx = { standards, windowOf: (s: string, m: MetricName) => windows.get(`${s}/${m}`) ?? [] };
  const N = 100_000;
  let transitions = 0;
  const run = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const obs = observationAt(i);
      for (const v of obs.values) {
        const k = `${obs.station}/${v.metric}`;
        const span = spans.get(k);
        if (span === undefined) continue;
        if (!windows.has(k)) windows.set(k, []);
        push(windows.get(k)!, { ts: obs.ts, value: v.value }, span);
      }
      for (const r of rules.rules) {
        if (!concerns(r, obs)) continue;
        const out = evaluateRule(r, states.get(r.id) ?? initialLevelState(), obs, ctx, obs.ts);
        if (!out) continue;
        states.set(r.id, out.result.state);
        if (out.result.transition) transitions++;
      }
    }
  };
  run(0, 10_000); // warm up
  const t0 = performance.now();
  run(10_000, 10_000 + N);
  const s = (performance.now() - t0) / 1000;
  print(`pure core, full rule set (${rules.rules.length} rules), one core`, N / s, 'obs/s');
  print('  transitions seen', transitions, '');
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
await benchLatency();
