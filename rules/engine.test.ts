import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import type { Observation } from '../contract/obs.ts';
import { topics } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { createRulesEngine, type RulesEngine } from './engine.ts';
import { RULE_STATE_NAMESPACE } from './record.ts';
import { loadRuleFile } from './load.ts';
import { acknowledgeAlert } from './operator-actions.ts';

const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;
const ALERT_TOPIC = topics.alert('kim-long', 'flood:kim-long');
const stations = loadStations(DEFAULT_STATIONS_FILE);
const shipped = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
/** The flood alarm-level rules of the shipped file: these tests are about one alert's lifecycle. */
const rules = { ...shipped, rules: shipped.rules.filter((r) => r.kind === 'level' && r.id.startsWith('flood-')) };

/** The real embedded store (DuckDB in memory), closed after the test. */
async function openStore(): Promise<EmbeddedStore> {
  const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  cleanup.push(() => store.close());
  return store;
}

interface Received { topic: string; text: string; retain: boolean; persisted?: Promise<boolean> }

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function startBroker(): Promise<{ url: string; close: () => Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanup.push(close);
  return { url, close };
}

async function client(url: string, clientId: string): Promise<MqttClient> {
  const c = await connectAsync(url, { clientId, reconnectPeriod: 0 });
  cleanup.push(() => c.endAsync(true));
  return c;
}

/** Subscribes to every alert topic and records what arrives (retained ones flagged). */
async function watch(url: string, name: string, store?: EmbeddedStore): Promise<Received[]> {
  const c = await client(url, name);
  const got: Received[] = [];
  c.on('message', (topic, payload, packet) => {
    const text = payload.toString('utf8');
    let persisted: Promise<boolean> | undefined;
    if (store && text) {
      // a reading's alert is published before it is written (residents do not wait for the
      // store): it must be in the store within a moment of its arrival
      const e = JSON.parse(text) as AlertEvent;
      persisted = until(`event ${e.eventSeq} in the store`, async () => (await store.alertHistory(e.id)).some((x) => x.event.eventSeq === e.eventSeq), 2_000).then(() => true, () => false);
    }
    got.push({ topic, text, retain: packet.retain, ...(persisted ? { persisted } : {}) });
  });
  await c.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
  return got;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 3_000): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

async function setup(url: string, store: EmbeddedStore, opts: { stations?: typeof stations } = {}) {
  const clock = { t: T0, now() { return this.t; } };
  const metrics = new Registry();
  const mqtt = await client(url, `rules-${Math.random().toString(16).slice(2)}`);
  const engine: RulesEngine = createRulesEngine({ rules, stations: opts.stations ?? stations, mqtt, state: store, log: silentLogger(), metrics, clock });
  const emitted: AlertEvent[] = [];
  engine.events.on('alert', (e) => emitted.push(e));
  cleanup.push(() => engine.stop());
  const ingest = await client(url, `ingest-${Math.random().toString(16).slice(2)}`);
  let n = 0;
  /** Publishes one water-level observation at `minute` and waits until the engine has handled it. */
  const obs = async (minute: number, value: number, station = 'kim-long') => {
    clock.t = T0 + minute * MIN + 5_000; // sent a few seconds after the reading
    const before = await metric(metrics, 'huewatch_rules_obs_handled_total');
    const o: Observation = { station, device: `${station}-1`, ts: T0 + minute * MIN, seq: ++n, values: [{ metric: 'water_level', value, unit: 'm', quality: 'ok' }] };
    await ingest.publishAsync(topics.obs(station), JSON.stringify(o), { qos: 1 });
    await until(`handling of ${station} at ${minute} min`, async () => (await metric(metrics, 'huewatch_rules_obs_handled_total')) > before);
  };
  return { engine, emitted, obs, ingest, metrics, clock };
}

describe('rules engine against a real broker', () => {
  it('raises, escalates and resolves one Kim Long alert, retained while active, published at once and written to the store right after', async () => {
    const { url } = await startBroker();
    const store = await openStore();
    const live = await watch(url, 'resident-app', store);
    const { engine, emitted, obs, metrics } = await setup(url, store);
    await engine.start();

    await obs(0, 0.5);
    expect(emitted).toEqual([]);

    await obs(10, 1.2);
    await until('the Alert', () => live.length === 1);
    const alert = JSON.parse(live[0]!.text) as AlertEvent;
    expect(live[0]).toMatchObject({ topic: ALERT_TOPIC });
    expect(await live[0]!.persisted).toBe(true);
    expect(alert).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/), key: 'flood:kim-long', eventSeq: 1, msgType: 'Alert', status: 'active',
      event: { vi: 'Lũ', en: 'Flood' }, category: 'Met', severity: 'Moderate', urgency: 'Immediate', certainty: 'Observed', level: 1,
      levelName: { vi: 'Báo động 1', en: 'alarm level 1' },
      headline: { vi: 'Lũ trên Báo động 1 tại trạm Kim Long (sông Hương): 1,20 m', en: 'Flood above alarm level 1 at Kim Long (Hương River): 1.20 m' },
      description: {
        vi: 'Lúc 07:10 30/10/2025 (giờ Việt Nam), mực nước tại trạm Kim Long trên sông Hương là 1,20 m và đang lên, trên mức Báo động 1 (1,00 m).',
        en: 'At 30/10/2025, 07:10 (Vietnam time), the water level at Kim Long on the Hương River was 1.20 m and rising, above alarm level 1 (1.00 m).',
      },
      instruction: {
        vi: 'Theo dõi bản tin lũ; chuẩn bị kê cao đồ đạc và đưa tài sản khỏi vùng trũng.',
        en: 'Follow the flood bulletins; get ready to raise belongings and move property out of low-lying areas.',
      },
      area: {
        name: { vi: 'Khu vực trạm Kim Long — Kim Long (TP Huế)', en: 'Area of Kim Long station — Kim Long (TP Huế)' },
        codes: ['kim-long'], circle: { lat: 16.462, lon: 107.556, radiusKm: 5 },
      },
      source: { station: 'kim-long', metric: 'water_level', value: 1.2, threshold: 1.0, observedAt: '2025-10-30T00:10:00.000Z' },
      sent: '2025-10-30T00:10:05Z', firstSent: '2025-10-30T00:10:05Z', expires: null,
    });
    expect(emitted).toEqual([alert]);
    expect(await store.alertHistory(alert.id)).toEqual([{ event: alert, cause: expect.objectContaining({ station: 'kim-long', ts: T0 + 10 * MIN }) }]);
    const late = await watch(url, 'late-joiner');
    await until('the retained Alert', () => late.length === 1);
    expect(late[0]).toMatchObject({ topic: ALERT_TOPIC, retain: true });
    expect(JSON.parse(late[0]!.text)).toEqual(alert);

    await obs(20, 2.3);
    await until('the Update', () => live.length === 2);
    const update = JSON.parse(live[1]!.text) as AlertEvent;
    expect(update).toMatchObject({ id: alert.id, eventSeq: 2, msgType: 'Update', status: 'active', level: 2, severity: 'Severe', firstSent: alert.firstSent, sent: '2025-10-30T00:20:05Z' });
    expect(update.source).toMatchObject({ value: 2.3, threshold: 2.0 });
    expect(await live[1]!.persisted).toBe(true);

    await obs(30, 0.9); // below 0.95: the drop is pending, nothing is sent yet
    await obs(40, 0.9);
    expect(live).toHaveLength(2);
    await obs(46, 0.9); // held 16 min ≥ holdFall 15 min
    await until('the Cancel and the cleared retained message', () => live.length === 4);
    const cancel = JSON.parse(live[2]!.text) as AlertEvent;
    expect(live[2]).toMatchObject({ topic: ALERT_TOPIC, retain: false });
    expect(await live[2]!.persisted).toBe(true);
    expect(cancel).toMatchObject({ id: alert.id, eventSeq: 3, msgType: 'Cancel', status: 'resolved', level: 0, urgency: 'Past', firstSent: alert.firstSent });
    expect(cancel.headline.vi).toBe('Lũ: hết báo động tại trạm Kim Long (sông Hương): 0,90 m');
    expect(live[3]).toMatchObject({ topic: ALERT_TOPIC, text: '' });
    expect(emitted.map((e) => [e.msgType, e.eventSeq])).toEqual([['Alert', 1], ['Update', 2], ['Cancel', 3]]);

    const afterwards = await watch(url, 'after-the-flood');
    await pause(200);
    expect(afterwards).toEqual([]);
    expect(await metric(metrics, 'huewatch_alert_events_total', { msgType: 'Cancel' })).toBe(1);
    expect((await store.getJson<{ level: { level: number } }>(RULE_STATE_NAMESPACE, 'flood-kim-long'))?.level.level).toBe(0);
  });

  it('after a restart with the same state store it re-publishes the active alert unchanged and emits no new event', async () => {
    const first = await startBroker();
    const store = await openStore();
    const a = await setup(first.url, store);
    await a.engine.start();
    await a.obs(10, 1.2);
    expect(a.emitted).toHaveLength(1);
    const alert = a.emitted[0]!;
    await a.engine.stop();
    await first.close(); // a broker without persistence forgets retained messages: the engine must restore them

    const second = await startBroker();
    const b = await setup(second.url, store);
    await b.engine.start();
    const late = await watch(second.url, 'resident-app');
    await until('the restored retained alert', () => late.length === 1);
    expect(late[0]).toMatchObject({ topic: ALERT_TOPIC, retain: true });
    expect(JSON.parse(late[0]!.text)).toEqual(alert);
    expect(b.emitted).toEqual([]);

    await b.obs(10, 1.2); // redelivered reading: ignored
    await b.obs(20, 1.3); // same level: nothing to say
    expect(b.emitted).toEqual([]);
    expect(await metric(b.metrics, 'huewatch_rules_readings_ignored_total', { reason: 'late' })).toBe(1);
    await b.obs(30, 2.1);
    expect(b.emitted.map((e) => [e.id, e.msgType, e.eventSeq, e.level])).toEqual([[alert.id, 'Update', 2, 2]]);
  });

  it('keeps an operator acknowledgement when the level changes', async () => {
    const { url } = await startBroker();
    const store = await openStore();
    const { engine, emitted, obs, clock } = await setup(url, store);
    await engine.start();
    await obs(10, 1.2);
    const alert = emitted[0]!;
    const operator = { user: 'ioc-duty', at: '2025-10-30T00:12:00Z' };
    clock.t = Date.parse(operator.at);
    const acked = await acknowledgeAlert(engine, alert.id, 'ioc-duty'); // as the API does, after its role check
    expect(acked).toMatchObject({ id: alert.id, eventSeq: 2, msgType: 'Update', status: 'acknowledged', operator });
    await obs(20, 3.6);
    expect(emitted[2]).toMatchObject({ id: alert.id, eventSeq: 3, msgType: 'Update', status: 'acknowledged', level: 3, severity: 'Extreme', operator });
  });

  it('drops invalid observations with a count and survives a failing rule', async () => {
    const { url } = await startBroker();
    const store = await openStore();
    // Phú Ốc is missing from the catalogue the engine was given: its rule fails when it fires.
    const { engine, emitted, obs, ingest, metrics } = await setup(url, store, { stations: stations.filter((s) => s.id !== 'phu-oc') });
    await engine.start();
    await ingest.publishAsync(topics.obs('kim-long'), 'not json', { qos: 1 });
    await ingest.publishAsync(topics.obs('kim-long'), JSON.stringify({ station: 'kim-long', ts: T0 }), { qos: 1 });
    await ingest.publishAsync(topics.obs('kim-long'), JSON.stringify({ station: 'phu-oc', device: 'x', ts: T0, values: [{ metric: 'water_level', value: 9, unit: 'm', quality: 'ok' }] }), { qos: 1 });
    await until('three invalid observations', async () => (await metric(metrics, 'huewatch_rules_obs_invalid_total')) === 3);

    await obs(10, 2.0, 'phu-oc');
    expect(await metric(metrics, 'huewatch_rules_errors_total', { rule: 'flood-phu-oc' })).toBe(1);
    await obs(10, 1.1);
    expect(emitted.map((e) => [e.key, e.msgType])).toEqual([['flood:kim-long', 'Alert']]);
  });
});
