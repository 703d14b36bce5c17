import { createRequire } from 'node:module';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

/**
 * Two changes carried in aedes (node_modules/aedes, patches/): shared subscriptions
 * (`$share/{group}/{filter}`, lib/shared.js) and the QoS 1 PUBACK sent once the message is stored.
 * A real broker (test-harness.ts) and MQTT.js clients.
 */
const DEVICES = ['kl-01', 'kl-02', 'kl-03', 'kl-04', 'kl-05', 'kl-06', 'kl-07', 'kl-08'];
const FILTER = '$share/ingest/huewatch/v1/telemetry/+';

// aedes' default (memory) persistence; its typings describe the callback API of aedes 0.x
const memory = createRequire(import.meta.url)('aedes-persistence') as () => Record<string, any>;

let h: Harness | undefined;
const after: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(after.splice(0).map((c) => c.endAsync(true)));
  await h?.close();
  h = undefined;
});

type Seen = Array<{ topic: string; n: number }>;
const listen = (c: MqttClient): Seen => {
  const seen: Seen = [];
  c.on('message', (topic, payload) => seen.push({ topic, n: Number(JSON.parse(payload.toString()).seq) }));
  return seen;
};
const reading = (seq: number) => JSON.stringify({ ts: 1_700_000_000_000 + seq * 1000, seq, m: { water_level: 0.5 } });

describe('shared subscriptions ($share/{group}/{filter})', () => {
  it('gives each message to exactly one member, one device always to the same member, in order', async () => {
    h = await startHarness(DEVICES);
    const w1 = await h.service('ingest', 'w1');
    const w2 = await h.service('ingest', 'w2');
    const [s1, s2] = [listen(w1), listen(w2)];
    expect(await w1.subscribeAsync(FILTER, { qos: 1 })).toEqual([{ topic: FILTER, qos: 1 }]);
    expect(await w2.subscribeAsync(FILTER, { qos: 1 })).toEqual([{ topic: FILTER, qos: 1 }]);
    // an ordinary subscriber of the same filter still gets everything
    const all = listen(await h.service('ingest', 'all').then(async (c) => { await c.subscribeAsync('huewatch/v1/telemetry/+', { qos: 1 }); return c; }));

    const PER = 10;
    for (const id of DEVICES) {
      const d = await h.device(id);
      for (let seq = 1; seq <= PER; seq++) await d.publishAsync(`huewatch/v1/telemetry/${id}`, reading(seq), { qos: 1 });
    }
    const total = DEVICES.length * PER;
    expect(await waitFor(() => s1.length + s2.length >= total && all.length >= total, 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // nothing more comes
    expect(s1.length + s2.length).toBe(total);
    expect(all.length).toBe(total);
    expect(s1.length).toBeGreaterThan(0);
    expect(s2.length).toBeGreaterThan(0);
    const topics1 = new Set(s1.map((m) => m.topic));
    for (const m of s2) expect(topics1.has(m.topic), m.topic).toBe(false);
    for (const seen of [s1, s2]) {
      for (const t of new Set(seen.map((m) => m.topic))) expect(seen.filter((m) => m.topic === t).map((m) => m.n)).toEqual(Array.from({ length: PER }, (_, i) => i + 1));
    }
  });

  it('gives a member that leaves no more, and the others its devices', async () => {
    h = await startHarness(DEVICES);
    const w1 = await h.service('ingest', 'w1');
    const w2 = await h.service('ingest', 'w2');
    const [s1, s2] = [listen(w1), listen(w2)];
    await w1.subscribeAsync(FILTER, { qos: 1 });
    await w2.subscribeAsync(FILTER, { qos: 1 });
    const devices = await Promise.all(DEVICES.map((id) => h!.device(id)));
    const send = async (seq: number) => { for (const [i, d] of devices.entries()) await d.publishAsync(`huewatch/v1/telemetry/${DEVICES[i]}`, reading(seq), { qos: 1 }); };
    await send(1);
    expect(await waitFor(() => s1.length + s2.length >= DEVICES.length, 5_000)).toBe(true);
    expect(s1.length).toBeGreaterThan(0);
    await w1.unsubscribeAsync(FILTER);
    const before = s1.length;
    await send(2);
    expect(await waitFor(() => s2.filter((m) => m.n === 2).length >= DEVICES.length, 5_000)).toBe(true);
    expect(s1.length).toBe(before);
    // and back: it takes its share again
    await w1.subscribeAsync(FILTER, { qos: 1 });
    await send(3);
    expect(await waitFor(() => s1.filter((m) => m.n === 3).length + s2.filter((m) => m.n === 3).length >= DEVICES.length, 5_000)).toBe(true);
    expect(s1.filter((m) => m.n === 3).length).toBe(before);
  });

  it('queues for a persistent member while it is away and no member is connected: nothing is dropped', async () => {
    h = await startHarness(['kl-01']);
    const first = await h.service('ingest', 'w1', { clean: false });
    await first.subscribeAsync(FILTER, { qos: 1 });
    await first.endAsync();
    const d = await h.device('kl-01');
    for (let seq = 1; seq <= 5; seq++) await d.publishAsync('huewatch/v1/telemetry/kl-01', reading(seq), { qos: 1 });
    // the member comes back (its handler in place before the CONNACK): what was queued for it arrives
    const back = mqtt.connect(h.mqttUrl, { clientId: 'svc-ingest-w1', username: 'svc-ingest', password: 'svc-secret-ingest', clean: false, reconnectPeriod: 0 });
    after.push(back);
    const seen = listen(back);
    expect(await waitFor(() => seen.length >= 5, 10_000)).toBe(true);
    expect(seen.map((m) => m.n)).toEqual([1, 2, 3, 4, 5]);
  });

  it('sends no retained message to a shared subscription (MQTT 5.0 §4.8.2)', async () => {
    h = await startHarness([]);
    const rules = await h.service('rules', 'r');
    await rules.publishAsync('huewatch/v1/alerts/phu-vang/flood', '{"n":1}', { qos: 1, retain: true });
    const member = await h.service('api', 'm');
    const seen: string[] = [];
    member.on('message', (t) => seen.push(t));
    await member.subscribeAsync('$share/g/huewatch/v1/alerts/#', { qos: 1 });
    await rules.publishAsync('huewatch/v1/alerts/phu-vang/flood', '{"n":2}', { qos: 1 });
    expect(await waitFor(() => seen.length >= 1, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['huewatch/v1/alerts/phu-vang/flood']);
  });
});

describe('the PUBACK of a QoS 1 message', () => {
  it('goes out only once the message is queued for an offline persistent session', async () => {
    // a slow store: queueing takes 300 ms
    const persistence = memory();
    const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
    let queued = 0;
    persistence.outgoingEnqueueCombi = async (subs: unknown[], packet: unknown) => {
      await new Promise((r) => setTimeout(r, 300));
      await enqueue(subs, packet);
      if (subs.length > 0) queued++;
    };
    h = await startHarness([], { state: { aedesOptions: { persistence: persistence as never }, kind: 'memory', close: async () => {} } });
    const away = await h.connect({ clientId: 'resident-away', clean: false });
    await away.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    await away.endAsync();
    const rules = await h.service('rules', 'r');
    for (let n = 1; n <= 3; n++) {
      await rules.publishAsync('huewatch/v1/alerts/phu-vang/flood', `{"n":${n}}`, { qos: 1 });
      expect(queued, `message ${n} acknowledged before it was queued`).toBe(n);
    }
    // the handler in place before the CONNACK: queued messages come right after it
    const back = mqtt.connect(h.mqttUrl, { clientId: 'resident-away', clean: false, reconnectPeriod: 0 });
    const seen: string[] = [];
    back.on('message', (_t, p) => seen.push(p.toString()));
    after.push(back);
    expect(await waitFor(() => seen.length >= 3, 5_000)).toBe(true);
    expect(seen).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });
});
