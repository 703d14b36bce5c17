import { Aedes } from 'aedes';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBus } from '../broker/local-bus.ts';
import type { AlertEvent } from '../contract/alert.ts';
import { METRICS, qualityOf, type MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import { silentLogger } from '../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { createRulesEngine, type Scheduler } from './engine.ts';
import { DEFAULT_MAX_LAG } from './lateness.ts';
import { RULE_STATE_NAMESPACE, type RuleRecord } from './record.ts';
import { parseRuleFile } from './load.ts';

/**
 * Issue #12 defects 2 and 6, through the engine as ingest in the same process feeds it
 * (observe(), observations carrying `receivedAt`): a reading received hours after it was observed
 * never raises or holds a live alert, yet counts in its rain window; silence is receive time.
 * Real aedes (in-process bus) and real DuckDB.
 */

const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;
const H = 60 * MIN;
const stations = loadStations(DEFAULT_STATIONS_FILE);
const RULES = `
version: 1
rules:
  - id: flood-kim-long
    kind: level
    station: kim-long
    metric: water_level
    event: { vi: Lũ, en: Flood }
    levels:
      - { level: 1, value: 1.0 }
      - { level: 2, value: 2.0 }
      - { level: 3, value: 3.5 }
    hysteresis: 0.05
    holdFall: 15m
  - id: rain-24h
    kind: accumulation
    station: rg-nam-dong
    event: { vi: Mưa lớn, en: Heavy rain }
    window: 24h
    levels:
      - { level: 1, value: 100 }
    hysteresis: 2
    holdFall: 30m
  - id: rain-1h-slow-link
    kind: accumulation
    station: rg-hue
    event: { vi: Mưa lớn, en: Heavy rain }
    window: 1h
    maxLag: 3h
    levels:
      - { level: 1, value: 50 }
    hysteresis: 2
    holdFall: 30m
  - id: offline
    kind: staleness
    stations: [kim-long, phu-oc]
    event: { vi: Trạm mất tín hiệu, en: Device offline }
    category: Infra
    audience: operators
    maxSilence: 30m
`;
const rules = parseRuleFile(RULES, 'lateness.test.yaml', { stations });

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup() {
  const broker = await Aedes.createBroker();
  const bus = createLocalBus(broker);
  cleanup.push(() => new Promise<void>((resolve) => broker.close(() => resolve())));
  cleanup.push(() => bus.close());
  const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  cleanup.push(() => store.close());
  const clock = { t: T0, now() { return this.t; } };
  const jobs: Array<{ ms: number; fn: () => void }> = [];
  const scheduler: Scheduler = { every: (ms, fn) => { const j = { ms, fn }; jobs.push(j); return { cancel: () => jobs.splice(jobs.indexOf(j), 1) }; } };
  const metrics = new Registry();
  const engine = createRulesEngine({ rules, stations, mqtt: bus, subscribeObs: false, state: store, series: store, log: silentLogger(), metrics, clock, scheduler });
  const emitted: AlertEvent[] = [];
  engine.events.on('alert', (e) => emitted.push(e));
  cleanup.push(() => engine.stop());
  await engine.start();
  const handled = async () => (await metrics.getSingleMetric('huewatch_rules_obs_handled_total')?.get())?.values[0]?.value ?? 0;
  /** received at `receivedAt` (the engine's clock moves there): stored, then observed, as ingest does */
  const receive = async (station: string, metric: MetricName, ts: number, value: number, receivedAt: number) => {
    clock.t = Math.max(clock.t, receivedAt);
    const quality = qualityOf(metric, value);
    await store.writeReadings([{ station, device: `${station}-1`, metric, ts, value, quality }]);
    const obs: Observation = { station, device: `${station}-1`, ts, receivedAt, values: [{ metric, value, unit: METRICS[metric].unit, quality }] };
    const before = await handled();
    engine.observe(obs);
    for (const deadline = Date.now() + 5_000; (await handled()) <= before; await new Promise((r) => setTimeout(r, 5))) {
      if (Date.now() > deadline) throw new Error('observation not handled');
    }
  };
  const tickAt = async (t: number) => {
    clock.t = t;
    await engine.tick();
  };
  const ignored = async (reason: string) =>
    (await metrics.getSingleMetric('huewatch_rules_readings_ignored_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
  const record = async (ruleId: string) => {
    await engine.stop(); // writes the rule state
    return store.getJson<RuleRecord>(RULE_STATE_NAMESPACE, ruleId);
  };
  return { engine, emitted, receive, tickAt, ignored, record };
}

const summary = (events: AlertEvent[]) => events.map((e) => `${e.key} ${e.msgType} L${e.level} ${e.source.value}`);

describe('readings received long after they were observed (#12.2)', () => {
  it('a new station\'s first reading, 2 h old at 4.8 m, raises nothing and holds nothing: the current 1.0 m and 4.0 m readings decide', async () => {
    const { emitted, receive, ignored, record } = await setup();
    const now = T0 + 2 * H;
    await receive('kim-long', 'water_level', T0, 4.8, now);
    expect(emitted).toEqual([]);
    expect(await ignored('not-current')).toBe(1);
    // current: below level 1, so no alert; nothing pending from the old reading to hold
    await receive('kim-long', 'water_level', now, 1.0 - 0.1, now + 5_000);
    expect(emitted).toEqual([]);
    // the path is live: a current crossing raises at once
    await receive('kim-long', 'water_level', now + 10 * MIN, 4.0, now + 10 * MIN + 5_000);
    expect(summary(emitted)).toEqual(['flood:kim-long Alert L3 4']);
    expect(emitted[0]!.urgency).toBe('Immediate');
    expect(emitted[0]!.source.observedAt).toBe(new Date(now + 10 * MIN).toISOString());
    expect((await record('flood-kim-long'))?.level).toMatchObject({ level: 3, lastTs: now + 10 * MIN });
  });

  it('a late reading does not end an alert in force either, and its time is recorded so older ones stay late', async () => {
    const { emitted, receive, record } = await setup();
    await receive('kim-long', 'water_level', T0, 2.2, T0 + 5_000);
    expect(summary(emitted)).toEqual(['flood:kim-long Alert L2 2.2']);
    // a store-and-forward flush after a 3 h outage: the river fell, but these are not "now"
    const back = T0 + 3 * H;
    for (let m = 20; m <= 60; m += 20) await receive('kim-long', 'water_level', T0 + m * MIN, 0.5, back);
    expect(emitted).toHaveLength(1);
    // the current readings of the same flush end it, after holdFall in observation time
    for (let m = 150; m <= 180; m += 10) await receive('kim-long', 'water_level', T0 + m * MIN, 0.5, back + 1_000);
    expect(summary(emitted)).toEqual(['flood:kim-long Alert L2 2.2', 'flood:kim-long Cancel L0 0.5']);
    expect((await record('flood-kim-long'))?.level).toMatchObject({ level: 0, lastTs: T0 + 180 * MIN });
  });

  it('an old rain reading counts in the 24 h sum of its time without raising on its own; the next current reading speaks for the sum', async () => {
    const { emitted, receive } = await setup();
    const back = T0 + 5 * H;
    // the gauge's buffer after an outage: 60 + 50 mm, hours old
    await receive('rg-nam-dong', 'rainfall', T0 + H, 60, back);
    await receive('rg-nam-dong', 'rainfall', T0 + 2 * H, 50, back);
    expect(emitted).toEqual([]);
    await receive('rg-nam-dong', 'rainfall', back, 1, back + 5_000);
    expect(summary(emitted)).toEqual(['heavy-rain:rg-nam-dong Alert L1 111']);
  });

  it('a rule\'s own maxLag overrides its station kind\'s default', async () => {
    expect(DEFAULT_MAX_LAG.rain).toBe(H);
    const { emitted, receive } = await setup();
    // 2 h late: beyond rain's default hour, within this rule's 3 h
    await receive('rg-hue', 'rainfall', T0, 55, T0 + 2 * H);
    expect(summary(emitted)).toEqual(['heavy-rain:rg-hue Alert L1 55']);
  });
});

describe('offline is judged on receipt time (#12.6)', () => {
  it('a device flushing 2 h old readings is not offline and its open flood alert is not marked stale; a silent one goes offline', async () => {
    const { emitted, receive, tickAt } = await setup();
    await tickAt(T0); // both stations' silence counts from here
    await receive('kim-long', 'water_level', T0 + MIN, 2.5, T0 + MIN + 5_000);
    expect(summary(emitted)).toEqual(['flood:kim-long Alert L2 2.5']);
    // Kim Long drains its buffer from before the current reading, oldest first, for 40 minutes
    for (let m = 10; m <= 40; m += 10) {
      await receive('kim-long', 'water_level', T0 - 2 * H + m * MIN, 2.4, T0 + m * MIN);
      await tickAt(T0 + m * MIN + 1_000);
    }
    expect(summary(emitted)).toEqual(['flood:kim-long Alert L2 2.5', 'device-offline:phu-oc Alert L1 30']);
  });
});
