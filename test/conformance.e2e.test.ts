import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPacket, rawConnect, withStringBytes, type RawClient } from '../broker/raw-client.ts';
import { launchHuewatch, type HuewatchChild } from './huewatch-child.ts';

const exec = promisify(execFile);

/**
 * The conformance profile (MQTT_CONFORMANCE=1) of `huewatch start`, tried from outside as a
 * conformance suite and a device would: mosquitto_pub/_sub and raw MQTT 3.1.1 packets
 * (mqtt-packet over a socket), each test naming the statement of MQTT 3.1.1 it checks.
 */
describe('MQTT 3.1.1 conformance profile of huewatch start (#16)', () => {
  let hw: HuewatchChild;
  let host: string;
  let port: string;
  const raws: RawClient[] = [];

  beforeAll(async () => {
    hw = await launchHuewatch({ env: { MQTT_CONFORMANCE: '1' } });
    expect(await hw.ready).toBe('banner');
    ({ hostname: host, port } = new URL(hw.mqttUrl));
  }, 120_000);
  afterAll(async () => {
    for (const c of raws) c.drop();
    await hw?.stop();
  });

  const raw = async () => {
    const c = await rawConnect(hw.mqttUrl);
    raws.push(c);
    return c;
  };
  const sub = (args: string[]) => exec('mosquitto_sub', ['-V', '311', '-h', host, '-p', port, ...args], { timeout: 30_000 });
  const pub = (args: string[]) => exec('mosquitto_pub', ['-V', '311', '-h', host, '-p', port, ...args], { timeout: 30_000 });

  it('is refused with HUEWATCH_ENV=production: exit 2, naming MQTT_CONFORMANCE', async () => {
    const s = 'x'.repeat(40);
    const prod = await launchHuewatch({
      env: {
        HUEWATCH_ENV: 'production', MQTT_CONFORMANCE: '1',
        SVC_INGEST_SECRET: s, SVC_RULES_SECRET: s, SVC_API_SECRET: s, SVC_NODERED_SECRET: s, ADMIN_TOKEN: s, SVC_TOKEN: s,
      },
      waitMs: 60_000,
    });
    expect(await prod.ready).toBe('exited');
    expect(await prod.exited).toBe(2);
    expect(prod.stderr()).toMatch(/MQTT_CONFORMANCE=1: .*refused when HUEWATCH_ENV=production/);
  }, 90_000);

  it('[MQTT-3.3.1-6] gives an anonymous mosquitto_sub the retained message mosquitto_pub left in the test tree', async () => {
    await pub(['-q', '1', '-r', '-t', 'TopicA/B', '-m', 'kept']);
    const { stdout } = await sub(['-q', '1', '-t', 'TopicA/+', '-C', '1', '-W', '20', '-v']);
    expect(stdout.trim()).toBe('TopicA/B kept');
  }, 60_000);

  it('[MQTT-4.7.1-3] matches a retained message on a topic with an empty level with + (mosquitto_pub/_sub)', async () => {
    await pub(['-q', '1', '-r', '-t', 'conf//empty', '-m', 'empty level']);
    const { stdout } = await sub(['-t', 'conf/+/empty', '-C', '1', '-W', '20', '-v']);
    expect(stdout.trim()).toBe('conf//empty empty level');
  }, 60_000);

  it('[MQTT-4.7.1-2] delivers the test tree to a # subscriber of the profile, and none of the platform’s own topics (the profile’s ACL)', async () => {
    const { adminToken } = await hw.secrets();
    const reg = await fetch(`${hw.httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'conf-kl', station: 'kim-long' }),
    });
    expect(reg.status).toBe(201);
    const { secret } = (await reg.json()) as { secret: string };
    const all = sub(['-t', '#', '-v', '-W', '8']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    await new Promise((r) => setTimeout(r, 1_500));
    await pub(['-i', 'conf-kl', '-u', 'conf-kl', '-P', secret, '-q', '1', '-t', 'huewatch/v1/telemetry/conf-kl', '-m', JSON.stringify({ ts: Date.now(), seq: 1, m: { water_level: 1.2 } })]);
    await pub(['-q', '1', '-t', 'TopicA/C', '-m', 'test tree']);
    const { stdout } = await all;
    expect(stdout).toContain('TopicA/C test tree');
    expect(stdout).not.toContain('huewatch/');
  }, 60_000);

  it('[MQTT-3.3.5-2] still closes the connection of an anonymous publish to huewatch/ in the profile', async () => {
    const c = await raw();
    c.send(connectPacket('conf-intruder'));
    expect((await c.next('connack') as { returnCode: number }).returnCode).toBe(0);
    c.send({ cmd: 'publish', topic: 'huewatch/v1/telemetry/kl-01', payload: Buffer.from('{}'), qos: 1, messageId: 1, retain: false, dup: false });
    expect(await c.closed()).toBe(true);
    expect(c.packets.some((p) => p.cmd === 'puback')).toBe(false);
  });

  it('[MQTT-1.5.3-1] closes the connection on a topic filter of ill-formed UTF-8 (C3 28), without SUBACK', async () => {
    const c = await raw();
    c.send(connectPacket('conf-utf8'));
    await c.next('connack');
    c.send(withStringBytes({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'ab', qos: 0 }] } as Packet, 'ab', Buffer.from([0xc3, 0x28])));
    expect(await c.closed()).toBe(true);
    expect(c.packets.map((p) => p.cmd)).toEqual(['connack']);
  });

  it('[MQTT-3.1.3-8] answers a zero-length client id with clean session 0 with CONNACK 2', async () => {
    const bytes = Buffer.from(mqttPacket.generate(connectPacket('', { clean: true })));
    bytes[2 + 6 + 1] = bytes[2 + 6 + 1]! & ~0x02; // Clean Session flag cleared (mqtt-packet will not build it)
    const c = await raw();
    c.send(bytes);
    expect((await c.next('connack') as { returnCode: number }).returnCode).toBe(2);
    expect(await c.closed()).toBe(true);
  });

  it('[MQTT-3.3.1-1] sets DUP when it sends an unacknowledged QoS 1 message again after a reconnect', async () => {
    const a = await raw();
    a.send(connectPacket('conf-dup', { clean: false }));
    await a.next('connack');
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/dup', qos: 1 }] } as Packet);
    await a.next('suback');
    await pub(['-q', '1', '-t', 'conf/dup', '-m', 'again']);
    const first = (await a.next('publish')) as IPublishPacket;
    expect(first.dup).toBe(false);
    a.drop();
    await new Promise((r) => setTimeout(r, 300));
    const b = await raw();
    b.send(connectPacket('conf-dup', { clean: false }));
    expect((await b.next('connack') as { sessionPresent: boolean }).sessionPresent).toBe(true); // [MQTT-3.2.2-2]
    const again = (await b.next('publish')) as IPublishPacket;
    expect([again.payload.toString(), again.dup, again.messageId]).toEqual(['again', true, first.messageId]);
  });

  it('[MQTT-3.1.4-5] (§3.1.4) acknowledges all of a device’s store-and-forward flush of 300 readings written right behind its CONNECT, each once stored', async () => {
    const { adminToken } = await hw.secrets();
    const reg = await fetch(`${hw.httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'conf-flush', station: 'kim-long' }),
    });
    const { secret } = (await reg.json()) as { secret: string };
    const now = Date.now();
    const packets = [mqttPacket.generate(connectPacket('conf-flush', { username: 'conf-flush', password: secret, clean: false }))];
    for (let i = 1; i <= 300; i++) {
      const reading = { ts: now - (300 - i) * 60_000, seq: i, m: { water_level: 1 + i / 1000 } };
      packets.push(mqttPacket.generate({ cmd: 'publish', topic: 'huewatch/v1/telemetry/conf-flush', payload: Buffer.from(JSON.stringify(reading)), qos: 1, messageId: i, retain: false, dup: false }));
    }
    const c = await raw();
    c.send(Buffer.concat(packets));
    expect((await c.next('connack', 30_000) as { returnCode: number }).returnCode).toBe(0);
    const acks: number[] = [];
    for (let i = 1; i <= 300; i++) acks.push((await c.next('puback', 30_000)).messageId!);
    expect(acks).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const { viewerToken } = await hw.secrets();
    const series = await fetch(`${hw.httpUrl}/api/v1/stations/kim-long/series?metric=water_level&from=${new Date(now - 400 * 60_000).toISOString()}`, { headers: { authorization: `Bearer ${viewerToken}` } });
    expect(series.status).toBe(200);
    expect(JSON.stringify(await series.json())).toContain('1.3');
  }, 90_000);
});
