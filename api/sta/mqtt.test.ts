import { Aedes } from 'aedes';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBus } from '../../broker/local-bus.ts';
import type { Observation } from '../../contract/obs.ts';
import { topics } from '../../contract/topics.ts';
import { silentLogger } from '../../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../../lib/stations.ts';
import { openEmbeddedStore } from '../../store/duckdb.ts';
import { createStaMqttPublisher, staTopics } from './mqtt.ts';

/** Real aedes (in-process bus) and real DuckDB: an observation becomes a SensorThings Observation once stored. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup(giveUpMs = 60_000, maxWaiting?: number) {
  const broker = await Aedes.createBroker();
  cleanup.push(() => new Promise<void>((resolve) => broker.close(() => resolve())));
  const bus = createLocalBus(broker);
  cleanup.push(() => bus.close());
  const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
  cleanup.push(() => store.close());
  const metrics = new Registry();
  const sta = createStaMqttPublisher({ bus, stations: loadStations(DEFAULT_STATIONS_FILE), store, base: 'http://h/sta/v1.1', log: silentLogger(), checkEveryMs: 20, giveUpMs, metrics, ...(maxWaiting === undefined ? {} : { maxWaiting }) });
  await sta.start();
  cleanup.push(() => sta.stop());
  const seen: Array<{ topic: string; body: Record<string, unknown> }> = [];
  bus.on('message', (topic, payload) => {
    if (topic.startsWith('v1.1/')) seen.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  await bus.subscribeAsync('v1.1/#', { qos: 0 });
  const observe = (obs: Observation) => bus.publishAsync(topics.obs(obs.station), JSON.stringify(obs), { qos: 1 });
  const droppedCount = async () => (await metrics.getSingleMetric('huewatch_sta_mqtt_dropped_total')?.get())?.values[0]?.value ?? 0;
  return { store, seen, observe, droppedCount };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TS = Date.parse('2026-11-01T12:00:00Z');
const obs: Observation = { station: 'kim-long', device: 'kl-01', ts: TS, values: [{ metric: 'water_level', value: 2.4, unit: 'm', quality: 'ok' }, { metric: 'battery_v', value: 12.6, unit: 'V', quality: 'ok' }] };

describe('SensorThings MQTT: new Observations on v1.1/Datastreams(id)/Observations', () => {
  it('publishes an observation only once the store has it, on its Datastream and on v1.1/Observations', async () => {
    const { store, seen, observe } = await setup();
    await observe(obs);
    await sleep(200);
    expect(seen).toEqual([]); // not stored yet: its self link would be a 404
    await store.writeReadings([{ station: 'kim-long', device: 'kl-01', metric: 'water_level', ts: TS, value: 2.4, quality: 'ok' }, { station: 'kim-long', device: 'kl-01', metric: 'battery_v', ts: TS, value: 12.6, quality: 'ok' }]);
    const deadline = Date.now() + 5_000;
    while (seen.length < 2 && Date.now() < deadline) await sleep(20);
    // battery_v is the logger's health, not a Datastream: only the water level
    expect(seen.map((s) => s.topic)).toEqual([staTopics.datastreamObservations('kim-long:water_level'), staTopics.observations]);
    expect(seen[0]!.topic).toBe("v1.1/Datastreams('kim-long:water_level')/Observations");
    expect(seen[0]!.body).toEqual({
      '@iot.id': `kim-long:water_level:${TS}`,
      '@iot.selfLink': `http://h/sta/v1.1/Observations('kim-long:water_level:${TS}')`,
      phenomenonTime: '2026-11-01T12:00:00.000Z', resultTime: '2026-11-01T12:00:00.000Z', result: 2.4, resultQuality: 'ok',
      'Datastream@iot.navigationLink': `http://h/sta/v1.1/Observations('kim-long:water_level:${TS}')/Datastream`,
      'FeatureOfInterest@iot.navigationLink': `http://h/sta/v1.1/Observations('kim-long:water_level:${TS}')/FeatureOfInterest`,
    });
  });

  it('publishes an observation the store never shows after giveUpMs (spooled while the store is down)', async () => {
    const { seen, observe } = await setup(300);
    await observe(obs);
    const deadline = Date.now() + 5_000;
    while (seen.length < 2 && Date.now() < deadline) await sleep(20);
    expect(seen.map((s) => s.body.result)).toEqual([2.4, 2.4]);
  });

  it('keeps at most maxWaiting observations waiting for the store (a backlog, the store down): the oldest are dropped and counted, the rest go out in time order', async () => {
    const { seen, observe, droppedCount } = await setup(400, 10);
    for (let i = 0; i < 15; i++) await observe({ ...obs, ts: TS + i * 60_000, values: [{ metric: 'water_level', value: i, unit: 'm', quality: 'ok' }] });
    expect(await droppedCount()).toBe(5);
    const deadline = Date.now() + 5_000;
    while (seen.length < 20 && Date.now() < deadline) await sleep(20);
    await sleep(100);
    const onDatastream = seen.filter((s) => s.topic === staTopics.datastreamObservations('kim-long:water_level')).map((s) => s.body.result);
    expect(onDatastream).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });
});
