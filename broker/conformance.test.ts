import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { ConfigError, loadConfig } from '../platform/config.ts';
import { forwardAllowed, testTreeAllows } from './conformance.ts';
import { connectPacket, rawConnect, withStringBytes, type RawClient } from './raw-client.ts';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

/**
 * MQTT 3.1.1 (OASIS Standard, 29 October 2014) against the broker in the conformance profile,
 * one normative statement per test, with raw packets (mqtt-packet over a net.Socket) where a
 * client library would hide the behaviour, and MQTT.js elsewhere. Several of these fail on
 * aedes 1.2.0 as published; patches/README.md lists the fix of each.
 */

let h: Harness;
let plain: Harness;
beforeAll(async () => {
  h = await startHarness(['conf-dev'], { conformance: true });
  plain = await startHarness([], {});
});
afterAll(async () => { await h.close(); await plain.close(); });

const raws: RawClient[] = [];
async function raw(id: string, o: Parameters<typeof connectPacket>[1] = {}, url = h.mqttUrl): Promise<{ c: RawClient; connack: Packet }> {
  const c = await rawConnect(url);
  raws.push(c);
  c.send(connectPacket(id, o));
  return { c, connack: await c.next('connack') };
}
afterAll(() => { for (const c of raws) c.drop(); });

let mid = 1;
const nextId = () => (mid = (mid % 65000) + 1);
function subscribe(c: RawClient, topic: string, qos: 0 | 1 | 2): Promise<Packet> {
  c.send({ cmd: 'subscribe', messageId: nextId(), subscriptions: [{ topic, qos }] } as Packet);
  return c.next('suback');
}
const granted = (p: Packet) => (p as unknown as { granted: number[] }).granted;
const asPublish = (p: Packet) => p as IPublishPacket;

describe('the test tree of the profile (ACL)', () => {
  it('(configuration, no MQTT statement) MQTT_CONFORMANCE is off by default and refused with HUEWATCH_ENV=production, naming the key', () => {
    expect(loadConfig({}).MQTT_CONFORMANCE).toBe(false);
    expect(loadConfig({ MQTT_CONFORMANCE: '1' }).MQTT_CONFORMANCE).toBe(true);
    const s = 'k'.repeat(12) + 'Zq8#pW2!vR5$tY7&uI9*oP3^aS6@dF4%';
    const prod = { HUEWATCH_ENV: 'production', MQTT_CONFORMANCE: '1', SERVICES: 'broker,ingest,rules', SVC_INGEST_SECRET: s, SVC_RULES_SECRET: s, SVC_API_SECRET: s, SVC_NODERED_SECRET: s, ADMIN_TOKEN: s, SVC_TOKEN: s };
    let err: unknown;
    try { loadConfig(prod); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.some((p) => p.startsWith('MQTT_CONFORMANCE=1:'))).toBe(true);
  });

  it('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] lets anonymous clients use any well-formed filter and topic outside huewatch/, none on $ topics (the profile’s ACL)', () => {
    expect(testTreeAllows('publish', 'TopicA/B')).toBe(true);
    expect(testTreeAllows('publish', '/TopicA')).toBe(true);
    expect(testTreeAllows('subscribe', '#')).toBe(true);
    expect(testTreeAllows('subscribe', '+/C')).toBe(true);
    expect(testTreeAllows('publish', 'huewatch/v1/telemetry/kl-02')).toBe(false);
    expect(testTreeAllows('subscribe', 'huewatch/#')).toBe(false);
    expect(testTreeAllows('subscribe', '$SYS/#')).toBe(false);
    expect(testTreeAllows('subscribe', 'test/nosubscribe')).toBe(false);
    expect(testTreeAllows('subscribe', 'a/#/b')).toBe(false);
  });

  it('[MQTT-3.3.5-1] hands a wildcard of the test tree nothing of huewatch/, but a resident’s own huewatch/ filter what it always got (the profile’s ACL)', () => {
    expect(forwardAllowed('TopicA/B', ['#'])).toBe(true);
    expect(forwardAllowed('huewatch/v1/telemetry/kl-02', ['#', '+/+/+/+'])).toBe(false);
    expect(forwardAllowed('huewatch/v1/alerts/kim-long/flood', ['#', 'huewatch/v1/alerts/#'])).toBe(true);
  });

  it('[MQTT-4.7.1-2] delivers the test tree to a resident holding #, and no device’s telemetry (the profile’s ACL)', async () => {
    const { c: sub } = await raw('conf-hash');
    expect(granted(await subscribe(sub, '#', 0))).toEqual([0]);
    const dev = await h.device('conf-dev');
    await dev.publishAsync('huewatch/v1/telemetry/conf-dev', '{"ts":1,"seq":1,"m":{}}', { qos: 1 });
    const pub = await h.connect({ clientId: 'conf-hash-pub' });
    await pub.publishAsync('TopicA/C', 'test tree', { qos: 1 });
    const got = asPublish(await sub.next('publish'));
    expect(got.topic).toBe('TopicA/C');
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.packets.filter((p) => p.cmd === 'publish').map((p) => asPublish(p).topic)).toEqual(['TopicA/C']);
  });

  it('[MQTT-3.3.5-2] is off without the profile: an anonymous publish to the test tree closes the connection', async () => {
    const { c, connack } = await raw('conf-off', {}, plain.mqttUrl);
    expect((connack as { returnCode: number }).returnCode).toBe(0);
    c.send({ cmd: 'publish', topic: 'TopicA', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false });
    expect(await c.closed()).toBe(true);
    expect(c.packets.some((p) => p.cmd === 'puback')).toBe(false);
  });
});

describe('CONNECT and CONNACK', () => {
  it('[MQTT-3.1.3-8] refuses a zero-length client id with clean session 0: CONNACK 2, then closes [MQTT-3.2.2-5]', async () => {
    // mqtt-packet will not build it: a clean CONNECT with the Clean Session flag (bit 1) cleared
    const bytes = Buffer.from(mqtt.generate(connectPacket('', { clean: true })));
    const flagsAt = 2 + 6 + 1; // fixed header (short), protocol name, protocol level
    expect(bytes[flagsAt]! & 0x02).toBe(0x02);
    bytes[flagsAt] = bytes[flagsAt]! & ~0x02;
    const c = await rawConnect(h.mqttUrl);
    raws.push(c);
    c.send(bytes);
    expect((await c.next('connack') as { returnCode: number }).returnCode).toBe(2);
    expect(await c.closed()).toBe(true);
  });

  it('[MQTT-3.1.3-6] accepts a zero-length client id with clean session 1', async () => {
    const { connack } = await raw('', { clean: true });
    expect((connack as { returnCode: number }).returnCode).toBe(0);
  });

  it('[MQTT-3.2.2-2] says session present when a persistent session exists, though it holds no subscription', async () => {
    const first = await raw('conf-session', { clean: false });
    expect((first.connack as { sessionPresent: boolean }).sessionPresent).toBe(false); // [MQTT-3.2.2-3]: none yet
    first.c.send({ cmd: 'disconnect' });
    expect(await first.c.closed()).toBe(true);
    const second = await raw('conf-session', { clean: false });
    expect((second.connack as { sessionPresent: boolean }).sessionPresent).toBe(true);
    second.c.send({ cmd: 'disconnect' });
    await second.c.closed();
  });

  it('[MQTT-3.2.2-1] says no session present with clean session 1, and the old session is gone after it', async () => {
    const a = await raw('conf-session-2', { clean: false });
    await subscribe(a.c, 'conf/session/#', 1);
    a.c.send({ cmd: 'disconnect' });
    await a.c.closed();
    const b = await raw('conf-session-2', { clean: true });
    expect((b.connack as { sessionPresent: boolean }).sessionPresent).toBe(false);
    b.c.send({ cmd: 'disconnect' });
    await b.c.closed();
    const c = await raw('conf-session-2', { clean: false });
    expect((c.connack as { sessionPresent: boolean }).sessionPresent).toBe(false);
  });

  it('[MQTT-1.5.3-1] closes the connection on a client id of ill-formed UTF-8 (FF FE), without CONNACK', async () => {
    const c = await rawConnect(h.mqttUrl);
    raws.push(c);
    c.send(withStringBytes(connectPacket('@@'), '@@', Buffer.from([0xff, 0xfe])));
    expect(await c.closed()).toBe(true);
    expect(c.packets).toEqual([]);
  });

  it('[MQTT-1.5.3-2] closes the connection on a will topic holding U+0000, without CONNACK', async () => {
    const c = await rawConnect(h.mqttUrl);
    raws.push(c);
    c.send(withStringBytes(connectPacket('conf-will-nul', { will: { topic: 'will/@/x', payload: 'gone' } }), 'will/@/x', Buffer.from('will/\u0000/x')));
    expect(await c.closed()).toBe(true);
    expect(c.packets).toEqual([]);
  });
});

describe('wills at CONNECT', () => {
  it('[MQTT-4.7.3-1] closes the connection on a will with a zero-length topic, without CONNACK', async () => {
    const c = await rawConnect(h.mqttUrl);
    raws.push(c);
    // mqtt-packet will not build it: the will topic `W` (00 01 57) cut to a zero-length string (00 00)
    const full = Buffer.from(mqtt.generate(connectPacket('conf-will-empty', { will: { topic: 'W', payload: 'gone' } })));
    const at = full.indexOf(Buffer.from([0, 1, 0x57]), 10);
    const bytes = Buffer.concat([full.subarray(0, at), Buffer.from([0, 0]), full.subarray(at + 3)]);
    bytes[1] = bytes[1]! - 1; // remaining length (one byte for a packet this small)
    c.send(bytes);
    expect(await c.closed()).toBe(true);
    expect(c.packets).toEqual([]);
  });
});

describe('SUBSCRIBE and topic filters', () => {
  it('[MQTT-1.5.3-1] closes the connection on a topic filter of ill-formed UTF-8 (C3 28), without SUBACK', async () => {
    const { c } = await raw('conf-utf8');
    c.send(withStringBytes({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'ab', qos: 0 }] } as Packet, 'ab', Buffer.from([0xc3, 0x28])));
    expect(await c.closed()).toBe(true);
    expect(c.packets.some((p) => p.cmd === 'suback')).toBe(false);
  });

  it('[MQTT-1.5.3-2] closes the connection on a topic filter holding U+0000, without SUBACK', async () => {
    const { c } = await raw('conf-nul');
    c.send(withStringBytes({ cmd: 'subscribe', messageId: 8, subscriptions: [{ topic: 'a/@', qos: 0 }] } as Packet, 'a/@', Buffer.from('a/\u0000')));
    expect(await c.closed()).toBe(true);
    expect(c.packets.some((p) => p.cmd === 'suback')).toBe(false);
  });

  it('[MQTT-4.7.3-3] accepts a filter of 200 levels and delivers a message on a 200-level topic to it', async () => {
    const deep = Array.from({ length: 200 }, (_, i) => `l${i}`);
    const { c } = await raw('conf-deep');
    expect(granted(await subscribe(c, [...deep.slice(0, 199), '+'].join('/'), 1))).toEqual([1]);
    const pub = await h.connect({ clientId: 'conf-deep-pub' });
    await pub.publishAsync(deep.join('/'), 'deep', { qos: 1 });
    expect(asPublish(await c.next('publish')).topic).toBe(deep.join('/'));
  });

  it('[MQTT-4.7.1-3] matches a retained message on a topic with an empty level with +', async () => {
    const pub = await h.connect({ clientId: 'conf-empty-pub' });
    await pub.publishAsync('conf/empty//level', 'kept', { qos: 1, retain: true });
    await pub.publishAsync('/conf-empty-lead', 'lead', { qos: 1, retain: true });
    const { c } = await raw('conf-empty');
    await subscribe(c, 'conf/empty/+/level', 0);
    const got = asPublish(await c.next('publish'));
    expect([got.topic, got.retain, got.payload.toString()]).toEqual(['conf/empty//level', true, 'kept']);
    await subscribe(c, '+/conf-empty-lead', 0);
    expect(asPublish(await c.next('publish')).topic).toBe('/conf-empty-lead');
  });

  it('[MQTT-3.8.4-6] delivers at most the granted QoS through a wildcard filter, live and retained', async () => {
    const pub = await h.connect({ clientId: 'conf-qos-pub' });
    await pub.publishAsync('conf/qos/retained', 'r', { qos: 2, retain: true });
    const { c } = await raw('conf-qos');
    expect(granted(await subscribe(c, 'conf/qos/+', 1))).toEqual([1]);
    const retained = asPublish(await c.next('publish'));
    expect([retained.retain, retained.qos]).toEqual([true, 1]);
    c.send({ cmd: 'puback', messageId: retained.messageId! });
    await pub.publishAsync('conf/qos/live', 'l', { qos: 2 });
    const live = asPublish(await c.next('publish'));
    expect([live.topic, live.qos]).toEqual(['conf/qos/live', 1]);
  });
});

describe('retained messages', () => {
  it('[MQTT-3.3.1-8] sends a retained message with RETAIN 1 to a SUBSCRIBE that came in the same write right behind its PUBLISH [MQTT-4.6.0-6]', async () => {
    const { c } = await raw('conf-retain-order');
    c.send(Buffer.concat([
      Buffer.from(mqtt.generate({ cmd: 'publish', topic: 'retain/qos0/order', payload: Buffer.from('kept'), qos: 0, retain: true, dup: false })),
      Buffer.from(mqtt.generate({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'retain/qos0/order', qos: 0 }] } as Packet)),
    ]));
    await c.next('suback');
    const got = asPublish(await c.next('publish'));
    expect([got.topic, got.retain]).toEqual(['retain/qos0/order', true]);
  });
});

describe('QoS 1 and 2 flows', () => {
  it('[MQTT-3.3.1-1] sets DUP on a QoS 1 message sent again after a reconnect, and not on its first delivery [MQTT-3.3.1-3]', async () => {
    const first = await raw('conf-dup', { clean: false });
    await subscribe(first.c, 'conf/dup', 1);
    const pub = await h.connect({ clientId: 'conf-dup-pub' });
    await pub.publishAsync('conf/dup', 'once', { qos: 1 });
    const p1 = asPublish(await first.c.next('publish'));
    expect(p1.dup).toBe(false);
    first.c.drop(); // no PUBACK: the broker must send it again
    await waitFor(() => first.c.socket.destroyed, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    await pub.publishAsync('conf/dup', 'queued', { qos: 1 }); // while away: a first delivery
    const second = await raw('conf-dup', { clean: false });
    expect((second.connack as { sessionPresent: boolean }).sessionPresent).toBe(true);
    const again = asPublish(await second.c.next('publish'));
    const queued = asPublish(await second.c.next('publish'));
    expect([again.payload.toString(), again.dup, again.messageId]).toEqual(['once', true, p1.messageId]);
    expect([queued.payload.toString(), queued.dup]).toEqual(['queued', false]);
  });

  it('[MQTT-4.3.3-2] delivers a QoS 2 message once though the sender repeats its PUBLISH (DUP) before PUBREL', async () => {
    const { c: sub } = await raw('conf-q2-sub');
    await subscribe(sub, 'conf/q2', 2);
    const { c: pub } = await raw('conf-q2-pub');
    const msg = { cmd: 'publish', topic: 'conf/q2', payload: Buffer.from('exactly once'), qos: 2, messageId: 42, retain: false, dup: false } as const;
    pub.send(msg);
    expect((await pub.next('pubrec')).messageId).toBe(42);
    pub.send({ ...msg, dup: true });
    expect((await pub.next('pubrec')).messageId).toBe(42);
    pub.send({ cmd: 'pubrel', messageId: 42 });
    expect((await pub.next('pubcomp')).messageId).toBe(42); // [MQTT-4.3.3-1]
    const got = asPublish(await sub.next('publish'));
    expect(got.qos).toBe(2);
    sub.send({ cmd: 'pubrec', messageId: got.messageId! });
    expect((await sub.next('pubrel')).messageId).toBe(got.messageId);
    sub.send({ cmd: 'pubcomp', messageId: got.messageId! });
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.packets.filter((p) => p.cmd === 'publish')).toHaveLength(1);
  });

  it('[MQTT-4.3.3-2] closes the connection on a third copy of a QoS 2 PUBLISH before its PUBREL, and takes it again after a reconnect [MQTT-4.4.0-1] (mosquitto’s 03-publish-qos2-dup)', async () => {
    const msg = { cmd: 'publish', topic: 'conf/q2dup', payload: Buffer.from('looping'), qos: 2, messageId: 7, retain: false, dup: true } as const;
    const { c } = await raw('conf-q2dup', { clean: false });
    c.send(msg);
    expect((await c.next('pubrec')).messageId).toBe(7);
    c.send(msg);
    expect((await c.next('pubrec')).messageId).toBe(7);
    c.send(msg);
    expect(await c.closed(5_000)).toBe(true);
    expect(c.packets.filter((p) => p.cmd === 'pubrec')).toHaveLength(2);
    // a device resending after it reconnects is not in a loop: the message is still held for its PUBREL
    const again = await raw('conf-q2dup', { clean: false });
    again.c.send(msg);
    expect((await again.c.next('pubrec')).messageId).toBe(7);
    again.c.send({ cmd: 'pubrel', messageId: 7 });
    expect((await again.c.next('pubcomp')).messageId).toBe(7);
  });

  it('[MQTT-2.3.1-2] numbers a resumed session on from the identifiers it holds: 1 for a message queued while away with none in flight, the next one after an unacknowledged message', async () => {
    const first = await raw('conf-mid', { clean: false });
    await subscribe(first.c, 'conf/mid', 1);
    first.c.send({ cmd: 'disconnect' });
    expect(await first.c.closed()).toBe(true);
    const pub = await h.connect({ clientId: 'conf-mid-pub' });
    await pub.publishAsync('conf/mid', 'while away', { qos: 1 });
    const second = await raw('conf-mid', { clean: false });
    const queued = asPublish(await second.c.next('publish'));
    expect([queued.payload.toString(), queued.messageId, queued.dup]).toEqual(['while away', 1, false]);
    second.c.drop(); // unacknowledged: message 1 stays in flight in the session
    await waitFor(() => second.c.socket.destroyed, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    await pub.publishAsync('conf/mid', 'after', { qos: 1 });
    const third = await raw('conf-mid', { clean: false });
    const resent = asPublish(await third.c.next('publish'));
    const next = asPublish(await third.c.next('publish'));
    expect([resent.payload.toString(), resent.messageId, resent.dup]).toEqual(['while away', 1, true]);
    expect([next.payload.toString(), next.messageId]).toEqual(['after', 2]);
  });

  it('(MQTT 3.1, protocol level 3) answers a PUBREL sent again with DUP after a reconnect with PUBCOMP; in 3.1.1 that bit is reserved and closes the connection [MQTT-2.2.2-2] (mosquitto’s 03-publish-c2b-disconnect-qos2)', async () => {
    const pubrelDup = Buffer.from([0x6a, 0x02, 0x00, 0x05]); // PUBREL, DUP 1, packet id 5
    const connect31 = (id: string) => ({ ...connectPacket(id, { clean: false }), protocolId: 'MQIsdp', protocolVersion: 3 }) as Packet;
    const v31 = async () => {
      const c = await rawConnect(h.mqttUrl);
      raws.push(c);
      c.send(connect31('conf-v31-pubrel'));
      expect((await c.next('connack') as { returnCode: number }).returnCode).toBe(0);
      return c;
    };
    const first = await v31();
    first.send({ cmd: 'publish', topic: 'conf/v31', payload: Buffer.from('m'), qos: 2, messageId: 5, retain: false, dup: false });
    expect((await first.next('pubrec')).messageId).toBe(5);
    first.send({ cmd: 'pubrel', messageId: 5 });
    expect((await first.next('pubcomp')).messageId).toBe(5);
    first.drop(); // as if the PUBCOMP was lost
    await waitFor(() => first.socket.destroyed, 2_000);
    const second = await v31();
    second.send(pubrelDup);
    expect((await second.next('pubcomp')).messageId).toBe(5);

    const { c: v311 } = await raw('conf-v311-pubrel');
    v311.send(pubrelDup);
    expect(await v311.closed(5_000)).toBe(true);
  });

  it('[MQTT-4.6.0-6] keeps the order of one publisher’s QoS 1 messages on a topic, and [MQTT-4.6.0-2] answers PUBACKs in order', async () => {
    const { c: sub } = await raw('conf-order-sub');
    await subscribe(sub, 'conf/order', 1);
    const { c: pub } = await raw('conf-order-pub');
    for (let i = 1; i <= 200; i++) pub.send({ cmd: 'publish', topic: 'conf/order', payload: Buffer.from(String(i)), qos: 1, messageId: i, retain: false, dup: false });
    const acks: number[] = [];
    for (let i = 1; i <= 200; i++) acks.push((await pub.next('puback')).messageId!);
    expect(acks).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const got: string[] = [];
    for (let i = 1; i <= 200; i++) {
      const p = asPublish(await sub.next('publish'));
      got.push(p.payload.toString());
      sub.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1)));
  });
});

describe('wills', () => {
  it('[MQTT-3.1.2-8] publishes the will when the connection ends without DISCONNECT, retained as asked [MQTT-3.1.2-17]', async () => {
    const w = await h.connect({ clientId: 'conf-will-watch' });
    const seen: Array<[string, string]> = [];
    w.on('message', (t, p) => seen.push([t, p.toString()]));
    await w.subscribeAsync('will/conf/#', { qos: 1 });
    const { c } = await raw('conf-will', { will: { topic: 'will/conf/a', payload: 'gone', qos: 1, retain: true } });
    c.drop();
    expect(await waitFor(() => seen.length > 0, 5_000)).toBe(true);
    expect(seen[0]).toEqual(['will/conf/a', 'gone']);
    const late = await h.connect({ clientId: 'conf-will-late' });
    const retained: string[] = [];
    late.on('message', (_t, p, pk) => { if (pk.retain) retained.push(p.toString()); });
    await late.subscribeAsync('will/conf/a');
    expect(await waitFor(() => retained.length > 0, 5_000)).toBe(true);
  });

  it('[MQTT-3.1.4-2] on a takeover, publishes the will of a clean session, but not of a persistent session taken over by a persistent one (it goes on; mosquitto’s 07-will-takeover)', async () => {
    const w = await h.connect({ clientId: 'conf-takeover-watch' });
    const seen: string[] = [];
    w.on('message', (_t, p) => seen.push(p.toString()));
    await w.subscribeAsync('will/takeover/#', { qos: 1 });
    const cases: Array<[boolean, boolean, boolean]> = [[true, true, true], [false, true, true], [true, false, true], [false, false, false]];
    for (const [i, [clean1, clean2, willSent]] of cases.entries()) {
      const id = `conf-takeover-${i}`;
      const old = await raw(id, { clean: clean1, will: { topic: `will/takeover/${i}`, payload: `gone ${i}` } });
      old.c.send({ cmd: 'publish', topic: `will/takeover/${i}`, payload: Buffer.from(`ready ${i}`), qos: 0, retain: false, dup: false } as Packet);
      expect(await waitFor(() => seen.includes(`ready ${i}`), 5_000)).toBe(true);
      const taker = await raw(id, { clean: clean2 });
      expect((taker.connack as { sessionPresent: boolean }).sessionPresent).toBe(!clean1 && !clean2);
      expect(await old.c.closed()).toBe(true);
      taker.c.send({ cmd: 'publish', topic: `will/takeover/${i}`, payload: Buffer.from(`back ${i}`), qos: 0, retain: false, dup: false } as Packet);
      expect(await waitFor(() => seen.includes(`back ${i}`), 5_000)).toBe(true);
      expect(seen.includes(`gone ${i}`), `clean ${clean1} taken over by clean ${clean2}: will sent`).toBe(willSent);
      taker.c.send({ cmd: 'disconnect' });
    }
  });

  it('[MQTT-3.1.2-10] drops the will on DISCONNECT', async () => {
    const w = await h.connect({ clientId: 'conf-will-watch-2' });
    const seen: string[] = [];
    w.on('message', (t) => seen.push(t));
    await w.subscribeAsync('will/conf2/#', { qos: 1 });
    const { c } = await raw('conf-will-2', { will: { topic: 'will/conf2/a', payload: 'gone' } });
    c.send({ cmd: 'disconnect' });
    expect(await c.closed()).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual([]);
  });
});

describe('packets sent before the CONNACK', () => {
  it('[MQTT-3.1.4-5] processes nothing sent behind a CONNECT it refuses', async () => {
    const w = await h.connect({ clientId: 'conf-refused-watch' });
    const seen: string[] = [];
    w.on('message', (t) => seen.push(t));
    await w.subscribeAsync('conf/refused', { qos: 1 });
    const c = await rawConnect(h.mqttUrl);
    raws.push(c);
    c.send(Buffer.concat([
      Buffer.from(mqtt.generate(connectPacket('conf-dev', { username: 'conf-dev', password: 'wrong-secret' }))),
      Buffer.from(mqtt.generate({ cmd: 'publish', topic: 'conf/refused', payload: Buffer.from('x'), qos: 0, retain: false, dup: false })),
    ]));
    expect((await c.next('connack') as { returnCode: number }).returnCode).toBe(4);
    expect(await c.closed()).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
  });

  // §3.1.4: "Clients are allowed to send further Control Packets immediately after sending a CONNECT
  // Packet"; aedes kept 42 of them while the login was checked and dropped the connection past that
  it('[MQTT-3.1.4-5] (§3.1.4, accepted) keeps a device’s store-and-forward flush of 500 QoS 1 messages written right behind its CONNECT', async () => {
    const c = await rawConnect(h.mqttUrl);
    raws.push(c);
    const bytes = [Buffer.from(mqtt.generate(connectPacket('conf-dev', { username: 'conf-dev', password: h.secrets.get('conf-dev')! })))];
    for (let i = 1; i <= 500; i++) {
      const p = { cmd: 'publish', topic: 'huewatch/v1/telemetry/conf-dev', payload: Buffer.from(`{"ts":${i},"seq":${i},"m":{}}`), qos: 1, messageId: i, retain: false, dup: false } as const;
      bytes.push(Buffer.from(mqtt.generate(p)));
    }
    c.send(Buffer.concat(bytes)); // one write: the login's scrypt runs while all of it is parsed
    expect((await c.next('connack') as { returnCode: number }).returnCode).toBe(0);
    for (let i = 1; i <= 500; i++) expect((await c.next('puback', 20_000)).messageId).toBe(i);
    expect(c.socket.destroyed).toBe(false);
  });
});
