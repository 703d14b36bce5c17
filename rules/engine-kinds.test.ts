import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import type { MetricName } from '../contract/metrics.ts';
import { qualityOf } from '../contract/metrics.ts';
import { subscriptions, topics } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { StoreError, StoreErrorCode } from '../store/serial-queue.ts';
import type { TimeSeriesStore } from '../store/types.ts';
import { createRulesEngine, type Scheduler } from './engine.ts';
import { loadRuleFile } from './load.ts';
import { acknowledgeAlert, AUDIT_NAMESPACE, cancelAlert, declareReleaseOrder } from './operator-actions.ts';
import { parseDuration, type RainfallRule, type RuleSet } from './schema.ts';
import { sample } from '../firmware-sim/scenarios.ts';
import { dryHistory } from '../firmware-sim/weather.ts';

/** The rules engine with other kinds, against a real aedes broker and the real embedded store. */

const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;
const stations = loadStations(DEFAULT_STATIONS_FILE);
const shipped = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
const only = (...ids: string[]): RuleSet => ({ ...shipped, rules: shipped.rules.filter((r) => ids.includes(r.id)) });

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function broker(): Promise<string> {
  const b = await Aedes.createBroker();
  const server = createServer(b.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    await new Promise<void>((resolve) => b.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function client(url: string): Promise<MqttClient> {
  const c = await connectAsync(url, { clientId: `t-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  cleanup.push(() => c.endAsync(true));
  return c;
}

async function openStore(): Promise<EmbeddedStore> {
  const s = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  cleanup.push(() => s.close());
  return s;
}

/** A scheduler the test drives: `advance` moves the clock and runs the due ticks (fake timers). */
function fakeScheduler(clock: { t: number }) {
  const jobs: Array<{ ms: number; fn: () => void; next: number }> = [];
  const scheduler: Scheduler = { every: (ms, fn) => { const j = { ms, fn, next: clock.t + ms }; jobs.push(j); return { cancel: () => jobs.splice(jobs.indexOf(j), 1) }; } };
  return { scheduler, advanceTo(t: number) { for (const j of jobs) while (j.next <= t) { clock.t = j.next; j.fn(); j.next += j.ms; } clock.t = t; } };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

type StateStore = Parameters<typeof createRulesEngine>[0]['state'];

async function setup(url: string, store: EmbeddedStore, rules: RuleSet, series: Pick<TimeSeriesStore, 'series'> = store, state: StateStore = store) {
  const clock = { t: T0, now() { return this.t; } };
  const metrics = new Registry();
  const fake = fakeScheduler(clock);
  const engine = createRulesEngine({ rules, stations, mqtt: await client(url), state, series, log: silentLogger(), metrics, clock, scheduler: fake.scheduler, tickMs: MIN });
  const emitted: AlertEvent[] = [];
  engine.events.on('alert', (e) => emitted.push(e));
  cleanup.push(() => engine.stop());
  const ingest = await client(url);
  let seq = 0;
  const handled = async () => (await metrics.getSingleMetric('huewatch_rules_obs_handled_total')?.get())?.values[0]?.value ?? 0;
  /** As ingest does: store the reading, then publish the observation; waits until the engine handled it. */
  const obs = async (station: string, metric: MetricName, minute: number, value: number) => {
    clock.t = Math.max(clock.t, T0 + minute * MIN + 5_000);
    const ts = T0 + minute * MIN;
    const quality = qualityOf(metric, value);
    await store.writeReadings([{ station, device: `${station}-1`, metric, ts, value, quality }]);
    const before = await handled();
    await ingest.publishAsync(topics.obs(station), JSON.stringify({ station, device: `${station}-1`, ts, seq: ++seq, values: [{ metric, value, unit: 'x', quality }] }), { qos: 1 });
    await until('the observation handled', async () => (await handled()) > before);
  };
  const tickAt = async (minute: number) => { fake.advanceTo(T0 + minute * MIN); await engine.tick(); };
  return { engine, emitted, obs, clock, tickAt, metrics };
}

const summary = (events: AlertEvent[]) => events.map((e) => `${e.key} ${e.msgType} ${e.status} L${e.level} #${e.eventSeq}`);

describe('rules engine kinds against a real broker and store', () => {
  it('a replayed Kim Long flood hydrograph with wave noise yields exactly the expected alert events, without flapping', async () => {
    const url = await broker();
    const store = await openStore();
    const { engine, emitted, obs } = await setup(url, store, only('flood-kim-long'));
    await engine.start();
    // 2025-10-30 flood at Kim Long (peak 3.72 m at 07:00): rise through BĐ1–3, peak, recession; ±6 cm noise
    const base = [0.6, 0.9, 1.1, 1.4, 1.8, 2.1, 2.6, 3.1, 3.55, 3.72, 3.6, 3.4, 3.2, 2.8, 2.3, 1.9, 1.5, 1.2, 0.9, 0.7];
    const noise = [0.06, -0.06, 0.04, -0.05, 0.03, -0.06, 0.05];
    let minute = 0;
    for (const level of base) for (let k = 0; k < 3; k++) await obs('kim-long', 'water_level', (minute += 10), Math.round((level + noise[(minute / 10) % noise.length]!) * 100) / 100);
    expect(summary(emitted)).toEqual([
      'flood:kim-long Alert active L1 #1',
      'flood:kim-long Update active L2 #2',
      'flood:kim-long Update active L3 #3',
      'flood:kim-long Update active L2 #4',
      'flood:kim-long Update active L1 #5',
      'flood:kim-long Cancel resolved L0 #6',
    ]);
    // a reading's event is published first and written right after (rules/README.md): wait for the writes
    await until('the history written', async () => (await store.alertHistory(emitted[0]!.id)).length === emitted.length);
    const history = await store.alertHistory(emitted[0]!.id);
    expect(history.map((h) => (h.cause as { ts: number }).ts)).toEqual(emitted.map((e) => Date.parse(e.source.observedAt)));
  });

  it('forest-fire danger: the Nesterov index read from the store raises level IV for the district, updates to V, says nothing more on the same data and ends after a rainy day', async () => {
    const url = await broker();
    const store = await openStore();
    const { engine, emitted, tickAt, clock } = await setup(url, store, only('forest-fire.ws-a-luoi'));
    await engine.start();
    // a dry spell's logger memory, uploaded a day at a time as the simulator does (firmware-sim/weather.ts)
    const days = dryHistory(T0);
    const upload = (day: (typeof days)[number]) => store.writeReadings(day.flatMap((r) => Object.entries(r.m).map(([metric, value]) => ({ station: 'ws-a-luoi', device: 'sim-ws-a-luoi', metric: metric as MetricName, ts: r.ts, value: value!, quality: 'ok' as const }))));
    let minute = 0;
    for (const day of days) {
      await upload(day);
      await tickAt((minute += 2)); // every: 1m
    }
    expect(summary(emitted)).toEqual(['forest-fire-danger:ws-a-luoi Alert active L4 #1', 'forest-fire-danger:ws-a-luoi Update active L5 #2']);
    expect(emitted[0]).toMatchObject({ category: 'Fire', severity: 'Severe', certainty: 'Likely', urgency: 'Expected', levelName: { vi: 'Cấp IV – nguy hiểm', en: 'Level IV – dangerous' } });
    expect(emitted[0]!.area.name).toEqual({ vi: 'Huyện A Lưới', en: 'Huyện A Lưới' });
    expect(emitted[1]!.headline.vi).toBe('Nguy cơ cháy rừng: Cấp V – cực kỳ nguy hiểm tại Huyện A Lưới');
    expect(emitted[1]!.source.value).toBeGreaterThan(10_000);
    await tickAt((minute += 2));
    expect(emitted).toHaveLength(2); // the same data, the same P: no new event
    // 9 mm today: the index starts again from 0, the alert ends
    await store.writeReadings([{ station: 'ws-a-luoi', device: 'sim-ws-a-luoi', metric: 'rainfall', ts: clock.t - 60_000, value: 9, quality: 'ok' }]);
    await tickAt((minute += 2));
    expect(summary(emitted).slice(2)).toEqual(['forest-fire-danger:ws-a-luoi Cancel resolved L0 #3']);
  });

  it('a silent station raises a device-offline alert for operators, marks its flood alert stale instead of resolving it, and both recover when data returns', async () => {
    const url = await broker();
    const store = await openStore();
    const { engine, emitted, obs, tickAt } = await setup(url, store, only('flood-thuong-nhat', 'offline.thuong-nhat'));
    await engine.start();
    await obs('thuong-nhat', 'water_level', 0, 59.3);
    await tickAt(20);
    expect(summary(emitted)).toEqual(['flood:thuong-nhat Alert active L1 #1']);
    await tickAt(31);
    expect(summary(emitted).slice(1)).toEqual(['device-offline:thuong-nhat Alert active L1 #1', 'flood:thuong-nhat Update active L1 #2']);
    expect(emitted[1]!.area.codes).toEqual(['operators']);
    expect(emitted[2]).toMatchObject({ certainty: 'Unknown', expires: '2025-10-30T00:31:00Z' });
    await tickAt(60);
    expect(emitted).toHaveLength(3); // once, not at every tick
    await obs('thuong-nhat', 'water_level', 61, 59.35);
    expect(summary(emitted).slice(3)).toEqual(['flood:thuong-nhat Update active L1 #3', 'device-offline:thuong-nhat Cancel resolved L0 #2']);
    expect(emitted[3]).toMatchObject({ certainty: 'Observed', expires: null });
    expect(emitted[3]!.description.en).not.toContain('No data since');
  });

  it('after a restart in the middle of a rain event the 24 h window is warmed from the store: the alert continues and nothing fires again', async () => {
    const url = await broker();
    const store = await openStore();
    const rules = only('rain.rg-nam-dong');
    const a = await setup(url, store, rules);
    await a.engine.start();
    // 30 × 2 = 60 mm: 12 h "mưa vừa" (8), "mưa to" (26), "mưa rất to" (> 50)
    for (let m = 10; m <= 300; m += 10) await a.obs('rg-nam-dong', 'rainfall', m, 2);
    expect(summary(a.emitted)).toEqual(['heavy-rain:rg-nam-dong Alert active L1 #1', 'heavy-rain:rg-nam-dong Update active L2 #2', 'heavy-rain:rg-nam-dong Update active L4 #3']);
    await a.engine.stop();

    const b = await setup(url, store, rules);
    b.clock.t = T0 + 305 * MIN;
    await b.engine.start();
    expect(b.emitted).toEqual([]);
    await b.obs('rg-nam-dong', 'rainfall', 300, 50); // replayed reading for a moment already past: ignored
    expect(b.emitted).toEqual([]);
    await b.obs('rg-nam-dong', 'rainfall', 310, 141); // 60 warmed + 141 = 201 mm in 24 h: flash-flood risk (a cold window: 141, no change)
    expect(summary(b.emitted)).toEqual(['heavy-rain:rg-nam-dong Update active L5 #4']);
    expect(b.emitted[0]).toMatchObject({ id: a.emitted[0]!.id, source: { value: 201, threshold: 200 } });
  });

  it('the simulated flood rain through the real engine: one rain alert per gauge at a time, at the worst class across windows, updated as it changes, ended once', async () => {
    const url = await broker();
    const store = await openStore();
    const gauges = ['rg-nam-dong', 'rg-hue'];
    // a resident of each gauge's area, as the apps subscribe
    const resident = await client(url);
    const lastOn = new Map<string, string>(); // topic → last payload ('' = cleared)
    resident.on('message', (topic, payload) => lastOn.set(topic, payload.toString('utf8')));
    for (const g of gauges) await resident.subscribeAsync(subscriptions.areaAlerts(g), { qos: 1 });
    const rules = only(...gauges.map((g) => `rain.${g}`));
    const { engine, emitted, obs } = await setup(url, store, rules);
    const inForce = new Map<string, Set<string>>(); // area → ids of its open rain alerts
    let most = 0;
    engine.events.on('alert', (e) => {
      const ids = inForce.get(e.area.codes[0]!) ?? new Set<string>();
      if (e.msgType === 'Cancel') ids.delete(e.id);
      else ids.add(e.id);
      inForce.set(e.area.codes[0]!, ids);
      most = Math.max(most, ids.size);
    });
    await engine.start();
    // the flood scenario's rain (firmware-sim/scenarios.ts) as the gauges report it every 10 simulated
    // minutes, stamped in simulated time: the storm, then 28 h for every window to drain
    for (let minute = 10; minute <= 28 * 60; minute += 10) {
      for (const g of gauges) await obs(g, 'rainfall', minute, sample(stations.find((s) => s.id === g)!, 'flood', minute * 60, 600).rainfall!);
    }
    expect(most).toBe(1);
    const SEV = ['Unknown', 'Minor', 'Moderate', 'Severe', 'Extreme'];
    for (const g of gauges) {
      const rule = rules.rules.find((r) => r.station === g) as RainfallRule;
      const mine = emitted.filter((e) => e.area.codes.includes(g));
      expect(new Set(mine.map((e) => e.key)), g).toEqual(new Set([`heavy-rain:${g}`]));
      expect(new Set(mine.map((e) => e.id)).size, g).toBe(1); // one alert, its classes as Updates
      expect(mine.map((e) => e.eventSeq)).toEqual(mine.map((_, i) => i + 1));
      expect(mine.map((e) => e.msgType)).toEqual(['Alert', ...mine.slice(2).map(() => 'Update'), 'Cancel']);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.level, `${g} #${i + 1}`).not.toBe(mine[i - 1]!.level); // an Update is a change of class
      for (const e of mine.slice(0, -1)) {
        // the worst class across the windows the alert itself lists: by severity, then the window's level
        expect(e.windows!.map((w) => w.window)).toEqual(['24h', '12h', '6h', '3h', '1h']);
        const rank = (w: { window: string; level: number }) => {
          const spec = rule.windows.find((x) => x.window === parseDuration(w.window))!.levels.find((l) => l.level === w.level);
          return spec ? SEV.indexOf(spec.severity!) * 100 + spec.level : 0;
        };
        const worst = e.windows!.reduce((a, b) => (rank(b) > rank(a) ? b : a));
        expect(e.severity, `${g} #${e.eventSeq}`).toBe(rule.windows.find((x) => x.window === parseDuration(worst.window))!.levels.find((l) => l.level === worst.level)!.severity);
        expect(e.levelName, `${g} #${e.eventSeq}`).toEqual(worst.name);
        expect(e.source.value).toBe(worst.sum);
      }
      expect(mine.at(-1)).toMatchObject({ msgType: 'Cancel', status: 'resolved', level: 0 });
      // what the resident holds for the area at the end: the one topic, cleared
      expect([...lastOn.keys()].filter((t) => t.includes(`/alerts/${g}/`))).toEqual([topics.alert(g, `heavy-rain:${g}`)]);
    }
    await until('the cleared retained alerts', () => gauges.every((g) => lastOn.get(topics.alert(g, `heavy-rain:${g}`)) === ''));
    // Nam Đông's 419 mm in 2.5 h: more than 200 mm in 3 h at the peak
    expect(emitted.filter((e) => e.area.codes.includes('rg-nam-dong')).map((e) => e.severity)).toContain('Extreme');
  });

  it('starts while the store cannot answer, never ends a rain alert on the cold window, and warms it once the store is back', async () => {
    const url = await broker();
    const store = await openStore();
    const rules = only('rain.rg-nam-dong');
    const a = await setup(url, store, rules);
    await a.engine.start();
    for (let m = 10; m <= 300; m += 10) await a.obs('rg-nam-dong', 'rainfall', m, 2); // 60 mm: 12 h "mưa rất to"
    await a.engine.stop();

    // Fault injection (named as such): range reads fail as they do while InfluxDB is down.
    let down = true;
    const series: Pick<TimeSeriesStore, 'series'> = { series: (q) => (down ? Promise.reject(new StoreError(StoreErrorCode.UNAVAILABLE, 'influxdb: connect ECONNREFUSED')) : store.series(q)) };
    const b = await setup(url, store, rules, series);
    b.clock.t = T0 + 305 * MIN;
    await b.engine.start();
    const gauge = async () => (await b.metrics.getSingleMetric('huewatch_rules_cold_windows')!.get()).values[0]?.value;
    expect(await gauge()).toBe(1);
    await b.obs('rg-nam-dong', 'rainfall', 310, 1); // the cold window holds 1 mm: no all-clear
    expect(b.emitted).toEqual([]);
    await b.tickAt(312); // still down: still cold
    expect(await gauge()).toBe(1);

    down = false;
    await b.tickAt(315); // the tick tries again: 60 mm from the store under the 1 mm that arrived
    expect(await gauge()).toBe(0);
    await b.obs('rg-nam-dong', 'rainfall', 320, 139); // 60 + 1 + 139 = 200 mm in 24 h: flash-flood risk, the same alert
    expect(summary(b.emitted)).toEqual(['heavy-rain:rg-nam-dong Update active L5 #4']);
    expect(b.emitted[0]).toMatchObject({ id: a.emitted[0]!.id, source: { value: 200 } });
  });

  it('operators acknowledge and cancel with who, when and why kept, audited; an unacknowledged alert escalates once with its channels in the history', async () => {
    const url = await broker();
    const store = await openStore();
    const { engine, emitted, obs, tickAt, clock } = await setup(url, store, only('flood-kim-long', 'flood-phu-oc'));
    await engine.start();
    await obs('kim-long', 'water_level', 0, 1.2);
    await obs('phu-oc', 'water_level', 0, 1.6);
    const [kl, po] = emitted;
    await tickAt(31); // ackWithin 30m
    expect(summary(emitted.slice(2)).sort()).toEqual(['flood:kim-long Update active L1 #2', 'flood:phu-oc Update active L1 #2']);
    expect(emitted.slice(2).map((e) => e.severity)).toEqual(['Severe', 'Severe']); // Moderate + one step
    const hist = await store.alertHistory(kl!.id);
    expect(hist[1]!.cause).toMatchObject({ ackTimeout: { channels: ['sms', 'loudspeaker'], from: 'Moderate', to: 'Severe' } });
    await tickAt(40);
    expect(emitted).toHaveLength(4);

    clock.t = T0 + 41 * MIN;
    const acked = await acknowledgeAlert(engine, kl!.id, 'ioc-duty');
    expect(acked).toMatchObject({ msgType: 'Update', status: 'acknowledged', eventSeq: 3, operator: { user: 'ioc-duty', at: '2025-10-30T00:41:00Z' } });
    clock.t = T0 + 42 * MIN;
    const cancelled = await cancelAlert(engine, po!.id, 'ioc-duty', 'gauge under maintenance');
    expect(cancelled).toMatchObject({ msgType: 'Cancel', status: 'cancelled', operator: { user: 'ioc-duty', reason: 'gauge under maintenance' } });
    expect((await store.alertHistory(po!.id)).at(-1)!.cause).toEqual({ operator: { action: 'cancel', user: 'ioc-duty', reason: 'gauge under maintenance' } });
    expect((await store.listJson(AUDIT_NAMESPACE)).map((a) => (a.value as { action: string }).action)).toEqual(['acknowledge', 'cancel']);
    // the cancelled alert is not raised again at the same level, nor on the way down
    await obs('phu-oc', 'water_level', 50, 1.7);
    await obs('phu-oc', 'water_level', 60, 0.5);
    await obs('phu-oc', 'water_level', 80, 0.5);
    expect(emitted.filter((e) => e.key === 'flood:phu-oc').map((e) => e.msgType)).toEqual(['Alert', 'Update', 'Cancel']);
    await expect(acknowledgeAlert(engine, po!.id, 'ioc-duty')).rejects.toMatchObject({ code: 'HW_ERR_BAD_REQUEST' });
  });

  it('a release order declared by the Tả Trạch operator warns the communes downstream before the gates open', async () => {
    const url = await broker();
    const store = await openStore();
    const resident = await client(url);
    const got: string[] = [];
    resident.on('message', (topic) => got.push(topic));
    await resident.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    const { engine } = await setup(url, store, only('release-ta-trach'));
    await engine.start();
    const ev = await declareReleaseOrder(engine, { reservoir: 'ta-trach', flowMin: 500, flowMax: 1200, start: T0 + 2 * 60 * MIN, user: 'ta-trach-operator' });
    expect(ev).toMatchObject({ msgType: 'Alert', key: 'reservoir-release:ta-trach', urgency: 'Expected', area: { codes: ['kim-long'] }, source: { value: 1200, threshold: 500 } });
    expect(ev.headline.vi).toBe('Hồ Tả Trạch xả lũ từ 09:00 30/10/2025 (giờ Việt Nam): 500–1200 m³/s');
    await until('the warning on the resident topic', () => got.includes('huewatch/v1/alerts/kim-long/reservoir-release_ta-trach'));
    const revised = await declareReleaseOrder(engine, { reservoir: 'ta-trach', flowMin: 800, flowMax: 1600, start: T0 + 2 * 60 * MIN, user: 'ta-trach-operator' });
    expect(revised).toMatchObject({ id: ev.id, msgType: 'Update', eventSeq: 2 });
    await expect(declareReleaseOrder(engine, { reservoir: 'kim-long', flowMin: 1, flowMax: 2, start: T0, user: 'x' })).rejects.toMatchObject({ code: 'HW_ERR_NOT_FOUND' });
  });

  it("a river's alert goes out while a tick is still reading the fire index from a slow store: the tick's reads never hold it", async () => {
    const url = await broker();
    const store = await openStore();
    // The store's answers for the weather station and for stored alerts are held until released, as a
    // store busy with a burst of readings would hold them (a gate in front of the real store).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const reads = { fire: 0, alerts: 0 };
    const series: Pick<TimeSeriesStore, 'series'> = { series: async (q) => (q.station === 'ws-a-luoi' ? (reads.fire++, await gate) : undefined, store.series(q)) };
    const state = new Proxy(store, { get: (t, k) => {
      if (k === 'getAlert') return async (id: string) => (reads.alerts++, await gate, t.getAlert(id));
      const v = Reflect.get(t, k) as unknown;
      return typeof v === 'function' ? v.bind(t) : v; // private fields: called on the store itself
    } });
    const { engine, emitted, obs, tickAt } = await setup(url, store, only('flood-kim-long', 'forest-fire.ws-a-luoi'), series, state);
    cleanup.push(async () => open()); // before the engine stops, should an expectation fail first
    await engine.start();
    await obs('kim-long', 'water_level', 0, 1.2);
    expect(summary(emitted)).toEqual(['flood:kim-long Alert active L1 #1']);
    // the tick reads P for A Lưới (held) and checks the open flood alert's acknowledgement (not yet due: 30 min)
    const tick = tickAt(5);
    await new Promise((r) => setTimeout(r, 50));
    expect(reads.fire).toBeGreaterThan(0);
    await obs('kim-long', 'water_level', 6, 2.1);
    expect(summary(emitted).slice(1)).toEqual(['flood:kim-long Update active L2 #2']);
    expect(reads.alerts).toBe(0); // not due by the engine's own record: the store was not asked
    open();
    await tick;
    // once due, the store is read and the alert escalates as before
    await tickAt(31);
    expect(reads.alerts).toBeGreaterThan(0);
    expect(summary(emitted).slice(2)).toEqual(['flood:kim-long Update active L2 #3']);
    expect(emitted[2]!.severity).not.toBe(emitted[1]!.severity);
  });

  it('a stop waits for a fire-index read under way outside the queue, so nothing of the engine runs after it', async () => {
    const url = await broker();
    const store = await openStore();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let answered = 0;
    const series: Pick<TimeSeriesStore, 'series'> = { series: async (q) => { await gate; const r = await store.series(q); answered++; return r; } };
    const { engine, tickAt } = await setup(url, store, only('forest-fire.ws-a-luoi'), series);
    cleanup.push(async () => open());
    await engine.start();
    void tickAt(5);
    let stopped = false;
    const stop = engine.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    open();
    await stop;
    expect(answered).toBe(4); // temperature, humidity, dew point, rain: all read before the stop returned
  });
});
