import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBus } from '../broker/local-bus.ts';
import type { AlertEvent } from '../contract/alert.ts';
import type { Bus } from '../contract/bus.ts';
import { qualityOf, type MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import { topics } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import type { StateStore, TimeSeriesStore } from '../store/types.ts';
import { createRulesEngine, type Scheduler } from './engine.ts';
import { RULE_STATE_NAMESPACE, type RuleRecord } from './record.ts';
import { loadRuleFile } from './load.ts';
import type { RuleSet } from './schema.ts';

/**
 * Rule state across restarts and the hot path (issue #11 points 2 and 4, #12 defects 1 and 5):
 * observe() fed in process, state written in batches, stored readings replayed at start, retained
 * alerts re-published when the bus reconnects. Real aedes, real MQTT.js, real DuckDB.
 */

const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;
const ALERT_TOPIC = topics.alert('kim-long', 'flood:kim-long');
const stations = loadStations(DEFAULT_STATIONS_FILE);
const shipped = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
const only = (...ids: string[]): RuleSet => ({ ...shipped, rules: shipped.rules.filter((r) => ids.includes(r.id)) });

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** An aedes broker, and the in-process bus over it that the platform gives the engine. */
async function localBus(): Promise<{ broker: Aedes; bus: Bus }> {
  const broker = await Aedes.createBroker();
  const bus = createLocalBus(broker);
  cleanup.push(() => new Promise<void>((resolve) => broker.close(() => resolve())));
  cleanup.push(() => bus.close());
  return { broker, bus };
}

async function tcpBroker(): Promise<{ broker: Aedes; url: string }> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { broker, url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function client(url: string, clientId: string, reconnectPeriod = 0): Promise<MqttClient> {
  const c = await connectAsync(url, { clientId, reconnectPeriod });
  cleanup.push(() => c.endAsync(true));
  return c;
}

async function memoryStore(): Promise<EmbeddedStore> {
  const s = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  cleanup.push(() => s.close());
  return s;
}

/** A scheduler the test drives: `run(ms)` runs the jobs registered every `ms` (the state flush: 250). */
function manualScheduler() {
  const jobs: Array<{ ms: number; fn: () => void }> = [];
  const scheduler: Scheduler = { every: (ms, fn) => { const j = { ms, fn }; jobs.push(j); return { cancel: () => jobs.splice(jobs.indexOf(j), 1) }; } };
  return { scheduler, run: (ms: number) => { for (const j of jobs) if (j.ms === ms) j.fn(); } };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function metric(registry: Registry, name: string): Promise<number> {
  return ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((a, v) => a + v.value, 0);
}

const reading = (station: string, metric: MetricName, ts: number, value: number): Observation =>
  ({ station, device: `${station}-1`, ts, values: [{ metric, value, unit: 'x', quality: qualityOf(metric, value) }] });

interface EngineSetup {
  bus: Bus;
  state: StateStore;
  rules: RuleSet;
  series?: Pick<TimeSeriesStore, 'series'>;
  scheduler?: Scheduler;
  now: number;
  subscribeObs?: boolean;
}

/** An engine fed by observe(), as the platform's ingest feeds it in process. */
function engine(o: EngineSetup) {
  const clock = { t: o.now, now() { return this.t; } };
  const metrics = new Registry();
  const e = createRulesEngine({
    rules: o.rules, stations, mqtt: o.bus, subscribeObs: o.subscribeObs ?? false, state: o.state, log: silentLogger(), metrics, clock,
    ...(o.series ? { series: o.series } : {}), ...(o.scheduler ? { scheduler: o.scheduler } : {}),
  });
  const emitted: AlertEvent[] = [];
  e.events.on('alert', (ev) => emitted.push(ev));
  cleanup.push(() => e.stop());
  /** observe() and wait until the observation is handled (its alert events, if any, published) */
  const feed = async (obs: Observation) => {
    clock.t = Math.max(clock.t, obs.ts + 5_000);
    const before = await metric(metrics, 'huewatch_rules_obs_handled_total');
    e.observe(obs);
    await until('the observation handled', async () => (await metric(metrics, 'huewatch_rules_obs_handled_total')) > before);
  };
  return { engine: e, emitted, feed, clock, metrics };
}

describe('rules engine state across restarts', () => {
  it('after a graceful restart a reading older than the last one accepted is ignored as late, whatever its value (#12.1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hw-rules-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'huewatch.duckdb');
    const { bus } = await localBus();
    const rules = only('flood-kim-long');

    const store1 = await openEmbeddedStore({ file, log: silentLogger() });
    const a = engine({ bus, state: store1, rules, now: T0 });
    await a.engine.start();
    await a.feed(reading('kim-long', 'water_level', T0, 0.5)); // below every level: no event, state moves only in memory
    await a.engine.stop(); // SIGTERM: the newest accepted reading is written
    await store1.close();

    const store2 = await openEmbeddedStore({ file, log: silentLogger() });
    cleanup.push(() => store2.close());
    expect((await store2.getJson<RuleRecord>(RULE_STATE_NAMESPACE, 'flood-kim-long'))?.level.lastTs).toBe(T0);
    const b = engine({ bus, state: store2, rules, now: T0 + MIN });
    await b.engine.start();
    await b.feed(reading('kim-long', 'water_level', T0 - 120 * MIN, 3.8)); // a 2-hour-old BĐ3 reading arrives late
    expect(b.emitted).toEqual([]);
    expect(await metric(b.metrics, 'huewatch_rules_readings_ignored_total')).toBe(1);
  });

  it('writes rule state in batches: 10,000 observations that change no alert level cost a handful of writes, never one each', async () => {
    const { bus } = await localBus();
    const store = await memoryStore();
    const calls = { batch: 0, put: 0, records: 0 };
    // the real store, with its writes counted (its private fields need methods bound to it)
    const counted = new Proxy(store, {
      get(target, prop) {
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'writeJsonBatch') {
            calls.batch++;
            calls.records += (args[1] as unknown[]).length;
          }
          if (prop === 'putJson') calls.put++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const timers = manualScheduler();
    const { engine: e, emitted, clock } = engine({ bus, state: counted, rules: shipped, scheduler: timers.scheduler, now: T0 });
    await e.start();
    const before = { ...calls };
    const N = 10_000;
    const start = performance.now();
    for (let i = 0; i < N; i++) {
      const ts = T0 + i * 1_000;
      clock.t = ts + 500;
      // Kim Long between 0.40 and 0.44 m: far below alarm level 1, no rise worth a rate alert
      e.observe(reading('kim-long', 'water_level', ts, 0.4 + (i % 5) / 100));
      if (i % 2_000 === 1_999) {
        timers.run(250); // the state flush timer
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const evaluating = performance.now() - start;
    await e.stop();
    expect(emitted).toEqual([]);
    expect(calls.put - before.put).toBe(0);
    expect(calls.batch - before.batch).toBeGreaterThan(0);
    expect(calls.batch - before.batch).toBeLessThanOrEqual(10);
    expect(evaluating).toBeLessThan(5_000); // no store round trip per observation (one each took ~ms)
    // what was written last is the newest reading, for every rule kind that saw it
    for (const id of ['flood-kim-long', 'offline.kim-long', 'sensor-fault.kim-long']) {
      expect((await store.getJson<RuleRecord>(RULE_STATE_NAMESPACE, id))?.level.lastTs).toBe(T0 + (N - 1) * 1_000);
    }
  });

  it('replays stored readings the rule state never recorded: the crossing among them raises exactly one alert, and a second restart none', async () => {
    const { bus } = await localBus();
    const store = await memoryStore();
    const rules = only('flood-kim-long', 'rain.rg-nam-dong');
    const ingest = async (e: ReturnType<typeof engine> | undefined, obs: Observation) => {
      // as ingest does: stored (PUBACK), then handed to the engine (unless it was killed first)
      await store.writeReadings(obs.values.map((v) => ({ station: obs.station, device: obs.device, metric: v.metric, ts: obs.ts, value: v.value, quality: v.quality })));
      if (e) await e.feed(obs);
    };
    const a = engine({ bus, state: store, rules, series: store, now: T0 });
    await a.engine.start();
    await ingest(a, reading('kim-long', 'water_level', T0, 0.5));
    await ingest(a, reading('rg-nam-dong', 'rainfall', T0 + 10 * MIN, 5)); // below every class
    await a.engine.stop();

    // stored, acknowledged, never evaluated (the engine was down: state flushed before the kill)
    for (const [m, v] of [[10, 0.6], [20, 1.3], [30, 1.4]] as const) await ingest(undefined, reading('kim-long', 'water_level', T0 + m * MIN, v));
    for (const m of [20, 30, 40, 50]) await ingest(undefined, reading('rg-nam-dong', 'rainfall', T0 + m * MIN, 2));

    const b = engine({ bus, state: store, rules, series: store, now: T0 + 55 * MIN });
    await b.engine.start();
    expect(b.emitted.map((e) => `${e.key} ${e.msgType} L${e.level} ${e.source.value} ${e.source.observedAt}`)).toEqual([
      'flood:kim-long Alert L1 1.3 2025-10-30T00:20:00.000Z',
      // 5 + 2 + 2 mm ≥ 8 mm in 12 h: the 5 mm evaluated before the restart is in the window once, not twice
      'heavy-rain:rg-nam-dong Alert L1 9 2025-10-30T00:30:00.000Z',
    ]);
    expect(await metric(b.metrics, 'huewatch_rules_replayed_total')).toBe(7);
    await b.engine.stop(); // the events are published first, written right after: stop waits for the writes
    expect((await store.alertHistory(b.emitted[0]!.id)).map((h) => (h.cause as Observation).ts)).toEqual([T0 + 20 * MIN]);

    const c = engine({ bus, state: store, rules, series: store, now: T0 + 56 * MIN });
    await c.engine.start();
    expect(c.emitted).toEqual([]);
    expect(await metric(c.metrics, 'huewatch_rules_replayed_total')).toBe(0);
    await c.feed(reading('rg-nam-dong', 'rainfall', T0 + 60 * MIN, 1)); // 14 mm: same class, nothing to say
    expect(c.emitted).toEqual([]);
  });

  it('re-publishes the open alerts, retained, when the bus reconnects to a broker that forgot them (#12.5)', async () => {
    const { broker, url } = await tcpBroker();
    const store = await memoryStore();
    const mqtt = await client(url, 'rules-engine', 50);
    const e = engine({ bus: mqtt, state: store, rules: only('flood-kim-long'), now: T0, subscribeObs: true });
    await e.engine.start();
    await e.feed(reading('kim-long', 'water_level', T0 + 10 * MIN, 1.2));
    expect(e.emitted.map((x) => x.msgType)).toEqual(['Alert']);
    const alert = e.emitted[0]!;

    // the broker forgets (as one restarted without persistence does), then drops the engine's connection
    await new Promise<void>((resolve, reject) => broker.publish({ cmd: 'publish', topic: ALERT_TOPIC, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false } as PublishPacket, (err) => (err ? reject(err) : resolve())));
    const reconnected = new Promise<void>((resolve) => mqtt.once('connect', () => resolve()));
    // aedes keeps its connected clients by id; its typings leave the map out
    (broker as unknown as { clients: Record<string, Client> }).clients['rules-engine']!.close();
    await reconnected;

    const resident = await client(url, 'resident');
    const got: Array<{ topic: string; text: string; retain: boolean }> = [];
    resident.on('message', (topic, payload, packet) => got.push({ topic, text: payload.toString('utf8'), retain: packet.retain }));
    const fresh = async () => {
      got.length = 0;
      await resident.subscribeAsync(ALERT_TOPIC, { qos: 1 });
      await new Promise((r) => setTimeout(r, 30));
      await resident.unsubscribeAsync(ALERT_TOPIC);
      return got.some((g) => g.retain && g.text !== '');
    };
    await until('the retained alert back on the broker', fresh);
    expect(JSON.parse(got.find((g) => g.text !== '')!.text)).toEqual(alert); // the same event: same id and eventSeq
    expect(e.emitted).toHaveLength(1); // a re-publication, not a new event
  });
});
