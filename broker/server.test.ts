import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { encodeConnect, encodePublishQos0 } from './flood-load.ts';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

const R = 'huewatch/v1';
const MAX = 4 * 1024;
let h: Harness;

beforeAll(async () => {
  h = await startHarness(['dev-a', 'dev-b', 'dev-c', 'dev-will', 'dev-off', 'dev-big', 'dev-steady', 'dev-lock', 'rx-1'], { maxPayloadBytes: MAX });
  h.devices.get('dev-off')!.disabled = true;
  h.devices.get('rx-1')!.station = 'ais-receiver'; // a shore AIS receiver (lib/devices.ts)
});
afterAll(async () => h.close());

function collect(c: MqttClient): Array<{ topic: string; payload: string; retain: boolean }> {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

function connackCode(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(
    () => undefined,
    (e: { code?: number }) => e.code,
  );
}

describe('authentication', () => {
  it('lets a device in with its own secret', async () => {
    const c = await h.device('dev-a');
    expect(c.connected).toBe(true);
    await c.endAsync();
  });

  it('refuses a wrong password with CONNACK 4 and counts it', async () => {
    const before = h.broker.counters.refused('bad_credentials');
    expect(await connackCode(h.device('dev-a', { password: 'wrong' }))).toBe(4);
    expect(await connackCode(h.connect({ clientId: 'nobody', username: 'nobody', password: 'x' }))).toBe(4);
    expect(await connackCode(h.service('api', 'x', { password: 'wrong' }))).toBe(4);
    expect(h.broker.counters.refused('bad_credentials')).toBe(before + 3);
    expect(await h.metrics.metrics()).toMatch(/huewatch_broker_refused_total\{reason="bad_credentials"\} [1-9]/);
  });

  it('refuses a disabled device even with the right secret', async () => {
    expect(await connackCode(h.device('dev-off'))).toBe(5);
  });

  it('refuses a client id that could take over another session', async () => {
    expect(await connackCode(h.device('dev-a', { clientId: 'dev-b' }))).toBe(2);
    expect(await connackCode(h.connect({ clientId: 'dev-a' }, h.wsUrl))).toBe(2); // resident posing as a device
    expect(await connackCode(h.connect({ clientId: 'svc-rules-1' }, h.wsUrl))).toBe(2);
    expect(await connackCode(h.connect({ clientId: 'svc-api-1', username: 'svc-rules', password: 'svc-secret-rules' }))).toBe(2);
  });

  it('refuses at CONNECT a will outside the device’s own status topic', async () => {
    const will = { topic: `${R}/alerts/kim-long/fake`, payload: Buffer.from('{}'), qos: 0 as const, retain: true };
    expect(await connackCode(h.device('dev-c', { will }))).toBe(5);
    expect(h.broker.counters.refused('will_denied')).toBeGreaterThanOrEqual(1);
  });
});

describe('publishing', () => {
  it('forwards nothing a device publishes on another device’s telemetry topic', async () => {
    const ingest = await h.service('ingest', 'spoof');
    const got = collect(ingest);
    await ingest.subscribeAsync(`${R}/telemetry/+`, { qos: 1 });
    const a = await h.device('dev-a');
    const before = h.broker.counters.refused('publish_denied');
    a.publish(`${R}/telemetry/dev-b`, '{"seq":1,"m":{"water_level":99}}');
    expect(await waitFor(() => h.broker.counters.refused('publish_denied') === before + 1)).toBe(true);
    // a sentinel from the real dev-b: once it arrives, anything forwarded earlier would be here too
    const b = await h.device('dev-b');
    await b.publishAsync(`${R}/telemetry/dev-b`, '{"seq":1,"m":{"water_level":2.31}}', { qos: 1 });
    expect(await waitFor(() => got.length >= 1)).toBe(true);
    expect(got).toEqual([{ topic: `${R}/telemetry/dev-b`, payload: '{"seq":1,"m":{"water_level":2.31}}', retain: false }]);
    expect(await waitFor(() => !a.connected)).toBe(true); // [MQTT-3.3.5-2]: refused by closing
  });

  it('forwards AIS only from an AIS receiver: a river sensor cannot inject vessel positions', async () => {
    const ingest = await h.service('ingest', 'ais');
    const got = collect(ingest);
    await ingest.subscribeAsync(`${R}/ais/+`, { qos: 1 });
    const sensor = await h.device('dev-a');
    const before = h.broker.counters.refused('publish_denied');
    sensor.publish(`${R}/ais/dev-a`, '!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24');
    expect(await waitFor(() => h.broker.counters.refused('publish_denied') === before + 1)).toBe(true);
    const rx = await h.device('rx-1');
    await rx.publishAsync(`${R}/ais/rx-1`, '!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24', { qos: 1 });
    expect(await waitFor(() => got.length >= 1)).toBe(true);
    expect(got.map((g) => g.topic)).toEqual([`${R}/ais/rx-1`]);
    expect(await waitFor(() => !sensor.connected)).toBe(true);
  });

  it('delivers no alert published by a device; only the rules service reaches residents', async () => {
    const resident = await h.connect({}, h.wsUrl);
    const got = collect(resident);
    await resident.subscribeAsync(`${R}/alerts/#`);
    const c = await h.device('dev-c');
    c.publish(`${R}/alerts/kim-long/flood_kim-long`, '{"fake":true}');
    await waitFor(() => !c.connected);
    const rules = await h.service('rules', '1');
    await rules.publishAsync(`${R}/alerts/kim-long/flood_kim-long`, '{"real":true}', { qos: 1 });
    expect(await waitFor(() => got.length >= 1)).toBe(true);
    expect(got.map((g) => g.payload)).toEqual(['{"real":true}']);
  });
});

describe('a resident over WebSocket', () => {
  it('may read alerts, gets SUBACK 0x80 for telemetry, and publishes nothing', async () => {
    const resident = await h.connect({}, h.wsUrl);
    const got = collect(resident);
    // MQTT.js rejects a SUBSCRIBE with any 0x80 in its SUBACK; the packet rides on the error
    const suback = await resident.subscribeAsync([`${R}/alerts/hue-city/#`, `${R}/telemetry/#`]).then(
      () => undefined,
      (e: { packet?: { cmd: string; granted: number[] } }) => e.packet,
    );
    expect(suback).toMatchObject({ cmd: 'suback', granted: [0, 128] });
    expect(resident.connected).toBe(true); // one filter refused, the connection stays [MQTT-3.9.3-2]

    const spy = await h.service('nodered', 'spy');
    const spied = collect(spy);
    await spy.subscribeAsync(`${R}/alerts/#`);
    const rules = await h.service('rules', '2');
    await rules.publishAsync(`${R}/alerts/hue-city/storm`, 'real', { qos: 1 });
    expect(await waitFor(() => got.length >= 1 && spied.length >= 1)).toBe(true);
    expect(got.map((g) => g.payload)).toEqual(['real']);

    const before = h.broker.counters.refused('publish_denied');
    resident.publish(`${R}/alerts/hue-city/fake`, 'panic');
    expect(await waitFor(() => h.broker.counters.refused('publish_denied') === before + 1)).toBe(true);
    await rules.publishAsync(`${R}/alerts/hue-city/storm`, 'real-2', { qos: 1 });
    expect(await waitFor(() => spied.length >= 2)).toBe(true);
    expect(spied.map((g) => g.payload)).toEqual(['real', 'real-2']);
  });
});

describe('last will', () => {
  it('appears retained on the device’s status topic with online:false when the device drops', async () => {
    const will = { topic: `${R}/status/dev-will`, payload: Buffer.from('{"online":false}'), qos: 1 as const, retain: true };
    const d = await h.device('dev-will', { will });
    await d.publishAsync(`${R}/status/dev-will`, '{"online":true}', { qos: 1, retain: true });
    d.stream.destroy(); // a network drop: no DISCONNECT, so the will fires [MQTT-3.1.2-8]
    const api = await h.service('api', 'status');
    const got = collect(api);
    // subscribe after the fact: only a retained message can arrive
    expect(await waitFor(() => !d.connected)).toBe(true);
    await api.subscribeAsync(`${R}/status/+`);
    expect(await waitFor(() => got.some((g) => g.topic === `${R}/status/dev-will`))).toBe(true);
    expect(got.find((g) => g.topic === `${R}/status/dev-will`)).toMatchObject({ payload: '{"online":false}', retain: true });
  });
});

describe('payload size', () => {
  it('drops and counts an oversize payload while another device’s messages keep flowing', async () => {
    const ingest = await h.service('ingest', 'size');
    const got = collect(ingest);
    await ingest.subscribeAsync(`${R}/telemetry/dev-steady`, { qos: 1 });
    await ingest.subscribeAsync(`${R}/telemetry/dev-big`, { qos: 1 });
    const steady = await h.device('dev-steady');
    const before = h.broker.counters.refused('payload_too_large');

    // 1 MB on a raw socket: cut out of the stream as it passes, never buffered, and the
    // connection stays (closing it would make a persistent-session client resend it for ever)
    const big = netConnect({ port: Number(new URL(h.mqttUrl).port), host: '127.0.0.1' });
    big.on('error', () => {});
    big.write(encodeConnect('dev-big', 'dev-big', h.secrets.get('dev-big')));
    await new Promise((r) => setTimeout(r, 200));
    big.write(encodePublishQos0(`${R}/telemetry/dev-big`, Buffer.alloc(1024 * 1024, 0x7b)));

    for (let i = 0; i < 20; i++) await steady.publishAsync(`${R}/telemetry/dev-steady`, `{"seq":${i}}`, { qos: 1 });
    expect(await waitFor(() => got.length >= 20)).toBe(true);
    expect(got.every((g) => g.topic === `${R}/telemetry/dev-steady`)).toBe(true);
    expect(await waitFor(() => h.broker.counters.refused('payload_too_large') === before + 1)).toBe(true);
    expect(big.destroyed).toBe(false);
    big.destroy();

    // just over the payload limit but under the packet bound: refused exactly, in authorizePublish
    const big2 = await h.device('dev-big');
    big2.publish(`${R}/telemetry/dev-big`, Buffer.alloc(MAX + 1));
    expect(await waitFor(() => h.broker.counters.refused('payload_too_large') === before + 2)).toBe(true);
    await steady.publishAsync(`${R}/telemetry/dev-steady`, '{"seq":20}', { qos: 1 });
    expect(await waitFor(() => got.length === 21)).toBe(true);
    expect(got.filter((g) => g.topic.endsWith('dev-big'))).toEqual([]);
  });

  it('acknowledges and drops an oversize QoS 1 message of a persistent session, tells the device why, and takes its next message', async () => {
    const ingest = await h.service('ingest', 'lockout');
    const got = collect(ingest);
    await ingest.subscribeAsync(`${R}/telemetry/dev-lock`, { qos: 1 });
    const before = h.broker.counters.refused('payload_too_large');
    const dev = await h.device('dev-lock', { clean: false });
    const errors = collect(dev);
    await dev.subscribeAsync(`${R}/devices/dev-lock/errors`, { qos: 0 });
    // far over the packet bound (cut out by the frame guard) and just over the payload limit (authorizePublish)
    for (const size of [1024 * 1024, MAX + 1]) {
      await dev.publishAsync(`${R}/telemetry/dev-lock`, Buffer.alloc(size, 0x20), { qos: 1 }); // resolves on its PUBACK
      await new Promise((r) => setTimeout(r, 1_100)); // one error message a second per device
    }
    await dev.publishAsync(`${R}/telemetry/dev-lock`, '{"seq":1}', { qos: 1 });
    expect(await waitFor(() => got.length === 1)).toBe(true);
    expect(got[0]!.payload).toBe('{"seq":1}');
    expect(h.broker.counters.refused('payload_too_large')).toBe(before + 2);
    expect(await waitFor(() => errors.length === 2)).toBe(true);
    for (const e of errors) expect(JSON.parse(e.payload)).toMatchObject({ code: 'HW_ERR_PAYLOAD_TOO_LARGE', topic: `${R}/telemetry/dev-lock` });
    expect(dev.connected).toBe(true);
  });

  it('accepts a payload of exactly the limit', async () => {
    const ingest = await h.service('ingest', 'exact');
    const got = collect(ingest);
    await ingest.subscribeAsync(`${R}/telemetry/dev-c`, { qos: 1 });
    const c = await h.device('dev-c');
    await c.publishAsync(`${R}/telemetry/dev-c`, Buffer.alloc(MAX, 0x20), { qos: 1 });
    expect(await waitFor(() => got.length === 1)).toBe(true);
  });
});

describe('metrics', () => {
  it('exposes connected clients and accepted publishes', async () => {
    const text = await h.metrics.metrics();
    expect(text).toMatch(/huewatch_broker_clients \d+/);
    expect(text).toMatch(/huewatch_broker_publishes_total\{role="device"\} [1-9]/);
    expect(h.broker.counters.published).toBeGreaterThan(0);
  });
});
