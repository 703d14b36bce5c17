import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { collect, connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * Who may publish what, and what bad input costs: a refused or malformed message is counted and
 * dropped, and a good device beside it keeps flowing.
 */
describe('the platform under bad input and forbidden publishes', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  const secrets: Record<string, string> = {};
  let good: MqttClient;
  let bad: MqttClient;
  let goodSeq = 0;
  const now = Date.now();

  const api = async (path: string) => (await fetch(platform.httpUrl + path)).json() as Promise<any>;
  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(platform.httpUrl + '/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const count = async (station: string) =>
    (await api(`/api/v1/stations/${station}/series?metric=water_level&from=${now - 3600_000}&to=${now + 60_000}`)).points.length as number;
  const goodReading = () =>
    good.publishAsync(topics.telemetry('pb-01'), JSON.stringify({ ts: now - 3000_000 + goodSeq * 1000, seq: ++goodSeq, m: { water_level: 1.1 } }), { qos: 1 });

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir, { MAX_PAYLOAD_BYTES: String(64 * 1024) });
    for (const [deviceId, station] of [['kl-01', 'kim-long'], ['pb-01', 'phu-oc']]) {
      secrets[deviceId!] = await registerDevice(platform, deviceId!, station!);
    }
    good = await connectClient(platform.mqttUrl, { username: 'pb-01', password: secrets['pb-01'], clientId: 'pb-01' });
    bad = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secrets['kl-01'], clientId: 'kl-01' });
  });

  /**
   * A forbidden publish closes the connection (MQTT 3.1.1 has no negative PUBACK [MQTT-3.3.5-2]),
   * so each one goes over a connection of its own, QoS 0, and we wait for the broker to close it.
   */
  async function publishOnce(topic: string, payload: string | Buffer, retain = false) {
    const c = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secrets['kl-01'], clientId: 'kl-01' });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish(topic, payload, { qos: 0, retain });
    await closed;
    c.end(true);
  }

  afterAll(async () => {
    await Promise.all([good?.endAsync(), bad?.endAsync(true)]);
    await platform?.stop();
    await data?.cleanup();
  });

  it('refuses a device with a wrong password', async () => {
    await expect(connectClient(platform.mqttUrl, { username: 'kl-01', password: 'not-the-secret', clientId: 'intruder' })).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it('refuses the registration API without the admin token', async () => {
    const res = await fetch(platform.httpUrl + '/api/v1/devices', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"deviceId":"x","station":"kim-long"}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'HW_ERR_NOT_AUTHORIZED' });
  });

  it('stores nothing a device publishes as another device, and forwards no alert a device publishes', async () => {
    const resident = await connectClient(platform.mqttUrl, { clientId: 'resident-acl' });
    const seen = collect(resident);
    await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    await publishOnce(topics.telemetry('pb-01'), JSON.stringify({ ts: now - 60_000, seq: 1, m: { water_level: 9.9 } }));
    await publishOnce(topics.alert('kim-long', 'flood:kim-long'), JSON.stringify({ fake: true }), true);
    await goodReading();
    await waitFor(async () => (await count('phu-oc')) === 1, 1000, 'the good reading');
    const latest = await api('/api/v1/stations/phu-oc');
    expect(latest.latest.water_level.value).toBe(1.1);
    expect(seen).toEqual([]);
    expect(await metric('huewatch_broker_refused_total', 'reason="publish_denied"')).toBe(2);
    await resident.endAsync();
  });

  it('counts and drops each kind of bad payload while a good device keeps flowing', async () => {
    bad = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secrets['kl-01'], clientId: 'kl-01' });
    const before = await count('phu-oc');
    const badPayloads: Array<[string, string | Buffer]> = [
      ['HW_ERR_PAYLOAD_JSON', '{"ts": 1, "m": {"water_level": 1.0'],
      ['HW_ERR_PAYLOAD_JSON', '{"m":{"water_level":NaN}}'],
      ['HW_ERR_PAYLOAD_INVALID', JSON.stringify({ ts: now, m: { water_level: 'high' } })],
      ['HW_ERR_PAYLOAD_INVALID', JSON.stringify({ ts: 'yesterday', m: { water_level: 1 } })],
      ['HW_ERR_METRIC_UNKNOWN', JSON.stringify({ ts: now, m: { tide_height: 1 } })],
      ['HW_ERR_TS_FUTURE', JSON.stringify({ ts: now + 365 * 86400_000, m: { water_level: 1 } })],
    ];
    for (const [, payload] of badPayloads) {
      await bad.publishAsync(topics.telemetry('kl-01'), payload, { qos: 1 });
      await goodReading();
    }
    // A 1 MB payload over MAX_PAYLOAD_BYTES: taken and dropped by the broker, never buffered, the
    // connection kept (closing it would make a persistent session resend it for ever); the device
    // reads why on its errors topic, as it does for what ingest drops.
    const told = collect(bad);
    await bad.subscribeAsync(topics.deviceErrors('kl-01'), { qos: 0 });
    await bad.publishAsync(topics.telemetry('kl-01'), Buffer.alloc(1024 * 1024, 0x20), { qos: 1 });
    await waitFor(() => told.some((m) => JSON.parse(m.payload).code === 'HW_ERR_PAYLOAD_TOO_LARGE'), 3000, 'the device told of its oversize message');
    await new Promise((r) => setTimeout(r, 1_000)); // one error message a second per device
    await bad.publishAsync(topics.telemetry('kl-01'), '{"ts": 1, "m":', { qos: 1 });
    await waitFor(() => told.some((m) => JSON.parse(m.payload).code === 'HW_ERR_PAYLOAD_JSON'), 3000, 'the device told of its malformed message');
    expect(JSON.parse(told.find((m) => JSON.parse(m.payload).code === 'HW_ERR_PAYLOAD_JSON')!.payload)).toMatchObject({ topic: topics.telemetry('kl-01'), problem: expect.any(String) });
    expect(bad.connected).toBe(true);
    await bad.endAsync();
    await goodReading();
    await waitFor(async () => (await count('phu-oc')) === before + badPayloads.length + 1, 2000, 'every good reading');

    for (const code of new Set(badPayloads.map(([c]) => c))) {
      const expected = badPayloads.filter(([c]) => c === code).length + (code === 'HW_ERR_PAYLOAD_JSON' ? 1 : 0);
      await waitFor(async () => (await metric('huewatch_ingest_dropped_total', `code="${code}",device="kl-01"`)) === expected, 1000, `${code} counted`);
    }
    expect(await metric('huewatch_broker_refused_total', 'reason="payload_too_large"')).toBe(1);
    expect(await count('kim-long')).toBe(0);
  });
});
