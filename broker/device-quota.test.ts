import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createDeviceQuota, deviceQuotaSchema } from './device-quota.ts';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

const limits = (o: Partial<ReturnType<typeof deviceQuotaSchema.parse>>) => deviceQuotaSchema.parse(o);

describe('device quota buckets (pure)', () => {
  it('lets a burst through at once, then one message per 1/rate, and refills while the device is quiet', () => {
    const q = createDeviceQuota(limits({ msgsPerS: 10, msgsBurst: 5, bytesPerS: 0 }));
    for (let i = 0; i < 5; i++) expect(q.tryTake('d', 10, 0)).toBeUndefined();
    expect(q.tryTake('d', 10, 0)).toBe('msgs');
    expect(q.tryTake('d', 10, 99)).toBe('msgs');
    expect(q.tryTake('d', 10, 100)).toBeUndefined(); // one token after 100 ms at 10/s
    expect(q.tryTake('d', 10, 100)).toBe('msgs');
    for (let i = 0; i < 5; i++) expect(q.tryTake('d', 10, 10_000)).toBeUndefined(); // full again, not fuller
    expect(q.tryTake('d', 10, 10_000)).toBe('msgs');
  });

  it('keeps one bucket per device id: one device running dry leaves another untouched', () => {
    const q = createDeviceQuota(limits({ msgsPerS: 1, msgsBurst: 2, bytesPerS: 0 }));
    q.tryTake('flooder', 1, 0);
    q.tryTake('flooder', 1, 0);
    expect(q.tryTake('flooder', 1, 0)).toBe('msgs');
    expect(q.tryTake('station', 1, 0)).toBeUndefined();
  });

  it('counts bytes: a message larger than what is left waits, one larger than the burst needs a full bucket', () => {
    const q = createDeviceQuota(limits({ msgsPerS: 0, bytesPerS: 1000, bytesBurst: 2000 }));
    expect(q.tryTake('d', 1500, 0)).toBeUndefined();
    expect(q.tryTake('d', 1000, 0)).toBe('bytes');
    expect(q.reserve('d', 5000, 0)).toEqual({ waitMs: 1500, reason: 'bytes' }); // 500 left, 2000 (the burst) needed
  });

  it('reserves for QoS 1: every message of a burst past the bucket waits one interval more than the one before', () => {
    const q = createDeviceQuota(limits({ msgsPerS: 10, msgsBurst: 2, bytesPerS: 0 }));
    const waits = Array.from({ length: 5 }, () => q.reserve('d', 10, 0).waitMs);
    expect(waits).toEqual([0, 0, 100, 200, 300]);
    // a dropped-if-over message sees the debt the held ones left
    expect(q.tryTake('d', 10, 250)).toBe('msgs');
    expect(q.tryTake('d', 10, 400)).toBeUndefined();
  });

  it('costs nothing with both rates 0 (off), and forgets devices whose buckets are full again', () => {
    const off = createDeviceQuota(limits({ msgsPerS: 0, bytesPerS: 0 }));
    for (let i = 0; i < 10_000; i++) expect(off.tryTake('d', 60_000, 0)).toBeUndefined();
    expect(off.tracked).toBe(0);
    const q = createDeviceQuota(limits({ msgsPerS: 10, msgsBurst: 10, bytesPerS: 0 }));
    for (let i = 0; i < 100; i++) q.tryTake(`d-${i}`, 1, 0);
    expect(q.tracked).toBe(100);
    q.tryTake('late', 1, 61_000); // the sweep runs at most once a minute, on a take
    expect(q.tracked).toBe(1);
  });
});

describe('the publish quota on a real broker', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** the metric's value for these labels (0 when absent) */
  const quotaCount = async (reason: string, action: string) =>
    (await h!.metrics.getSingleMetric('huewatch_broker_quota_total')!.get()).values.find((v) => v.labels.reason === reason && v.labels.action === action)?.value ?? 0;

  async function errorsOf(device: MqttClient, id: string): Promise<Array<{ code: string; problem: string }>> {
    const seen: Array<{ code: string; problem: string }> = [];
    device.on('message', (topic, payload) => {
      if (topic === `huewatch/v1/devices/${id}/errors`) seen.push(JSON.parse(payload.toString()) as { code: string; problem: string });
    });
    await device.subscribeAsync(`huewatch/v1/devices/${id}/errors`, { qos: 0 });
    return seen;
  }

  it('drops a device’s QoS 0 past its quota, counts it, tells the device once a second, and lets another device’s messages all through', async () => {
    h = await startHarness(['flood-1', 'calm-1'], { wsPort: undefined, deviceQuota: { msgsPerS: 10, msgsBurst: 20, bytesPerS: 0 } });
    const ingest = await h.service('ingest', 'q');
    const got = new Map<string, number>();
    let lastSeen = false;
    ingest.on('message', (topic, payload) => {
      got.set(topic, (got.get(topic) ?? 0) + 1);
      if (payload.toString() === '{"seq":"last"}') lastSeen = true;
    });
    await ingest.subscribeAsync('huewatch/v1/telemetry/+', { qos: 1 });
    const flooder = await h.device('flood-1');
    const errors = await errorsOf(flooder, 'flood-1');
    const calm = await h.device('calm-1');

    const started = Date.now();
    for (let i = 0; i < 300; i++) flooder.publish('huewatch/v1/telemetry/flood-1', `{"seq":${i}}`, { qos: 0 });
    for (let i = 0; i < 10; i++) await calm.publishAsync('huewatch/v1/telemetry/calm-1', `{"seq":${i}}`, { qos: 0 });
    // a QoS 1 message after the flood on the same connection: once it is routed, every QoS 0 before it was decided
    await flooder.publishAsync('huewatch/v1/telemetry/flood-1', '{"seq":"last"}', { qos: 1 });
    const elapsedS = (Date.now() - started) / 1000;

    expect(await waitFor(() => got.get('huewatch/v1/telemetry/calm-1') === 10 && lastSeen, 10_000)).toBe(true);
    expect(await waitFor(() => errors.length > 0, 10_000)).toBe(true);
    const passed = got.get('huewatch/v1/telemetry/flood-1') ?? 0;
    // the burst, what the rate refilled meanwhile, and the QoS 1 one
    expect(passed).toBeGreaterThanOrEqual(20);
    expect(passed).toBeLessThanOrEqual(20 + Math.ceil(elapsedS * 10) + 2);
    expect(await quotaCount('msgs', 'dropped')).toBe(300 + 1 - passed);
    expect(h.broker.counters.refused()).toBe(0); // over quota is no refusal: the connection stays
    expect(errors[0]).toMatchObject({ code: 'HW_ERR_RATE_LIMITED', problem: expect.stringMatching(/10 messages\/s.*dropped/) });
    expect(errors.length).toBeLessThanOrEqual(Math.ceil(elapsedS) + 2);
    expect(flooder.connected).toBe(true);
  }, 30_000);

  it('slows a device’s QoS 1 past its quota instead of dropping it: every message acknowledged and delivered in order, while another device is answered at once', async () => {
    h = await startHarness(['flush-1', 'calm-1'], { wsPort: undefined, deviceQuota: { msgsPerS: 20, msgsBurst: 10, bytesPerS: 0 } });
    const ingest = await h.service('ingest', 'q');
    const order: string[] = [];
    ingest.on('message', (topic, payload) => order.push(`${topic.split('/').at(-1)}:${payload.toString()}`));
    await ingest.subscribeAsync('huewatch/v1/telemetry/+', { qos: 1 });
    const flusher = await h.device('flush-1');
    const errors = await errorsOf(flusher, 'flush-1');
    const calm = await h.device('calm-1');

    const started = Date.now();
    const acked: number[] = [];
    const flush = Promise.all(Array.from({ length: 50 }, (_, i) => flusher.publishAsync('huewatch/v1/telemetry/flush-1', String(i), { qos: 1 }).then(() => acked.push(i))));
    await calm.publishAsync('huewatch/v1/telemetry/calm-1', 'calm', { qos: 1 });
    const flushAckedWhenCalmWas = acked.length;
    await flush;
    const elapsedMs = Date.now() - started;

    expect(acked).toEqual(Array.from({ length: 50 }, (_, i) => i)); // PUBACKs in order [MQTT-4.6.0-2]
    expect(flushAckedWhenCalmWas).toBeLessThan(50); // the other device did not wait for the flush
    // 40 past the burst at 20/s: at least ~2 s, whatever the machine's load (it can only take longer)
    expect(elapsedMs).toBeGreaterThanOrEqual(1_800);
    expect(await waitFor(() => order.filter((o) => o.startsWith('flush-1:')).length === 50, 10_000)).toBe(true);
    expect(order.filter((o) => o.startsWith('flush-1:'))).toEqual(Array.from({ length: 50 }, (_, i) => `flush-1:${i}`));
    expect(order).toContain('calm-1:calm');
    expect(await quotaCount('msgs', 'slowed')).toBeGreaterThanOrEqual(30);
    expect(await quotaCount('msgs', 'dropped')).toBe(0);
    expect(errors[0]).toMatchObject({ code: 'HW_ERR_RATE_LIMITED', problem: expect.stringMatching(/slowed/) });
  }, 30_000);

  it('counts bytes too: large QoS 0 messages past the byte quota are dropped with reason bytes', async () => {
    h = await startHarness(['big-1'], { wsPort: undefined, deviceQuota: { msgsPerS: 0, bytesPerS: 1_000, bytesBurst: 4_000 } });
    const ingest = await h.service('ingest', 'q');
    let got = 0;
    ingest.on('message', () => got++);
    await ingest.subscribeAsync('huewatch/v1/telemetry/+', { qos: 1 });
    const big = await h.device('big-1');
    const payload = 'x'.repeat(1_000);
    for (let i = 0; i < 20; i++) big.publish('huewatch/v1/telemetry/big-1', payload, { qos: 0 });
    await big.publishAsync('huewatch/v1/telemetry/big-1', 'x', { qos: 1 }); // 1 byte: waits at most a millisecond
    expect(await waitFor(() => got >= 5, 10_000)).toBe(true);
    expect(await quotaCount('bytes', 'dropped')).toBeGreaterThanOrEqual(10);
    expect(await quotaCount('msgs', 'dropped')).toBe(0);
  }, 30_000);
});
