import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '../contract/topics.ts';
import { QOS0_PAUSE_MS } from './publish-quota.ts';
import { startHarness, type Harness } from './test-harness.ts';

/**
 * A device over its publish quota with QoS 0 (publish-quota.ts): the messages are dropped and
 * the broker stops reading its socket for QOS0_PAUSE_MS, so a flood costs the broker a read
 * chunk a second, not the parsing of every packet. A real broker (test-harness.ts), MQTT.js.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('a QoS 0 flood over the quota', () => {
  it('leaves the flooder\u2019s socket unread for a while (its next QoS 1 message is answered after the pause), and another device is answered at once', async () => {
    h = await startHarness(['kl-flood', 'kl-good'], { deviceQuota: { msgsPerS: 5, msgsBurst: 5, bytesPerS: 0, bytesBurst: 64 * 1024 } });
    const flooder = await h.device('kl-flood');
    const good = await h.device('kl-good');
    const errors: string[] = [];
    await flooder.subscribeAsync('huewatch/v1/devices/kl-flood/errors', { qos: 0 });
    flooder.on('message', (_t, p) => errors.push(p.toString()));
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) flooder.publish(topics.status('kl-flood'), JSON.stringify({ online: true, i }), { qos: 0 });
    const answered: Array<[string, number]> = [];
    const floodAck = flooder.publishAsync(topics.status('kl-flood'), '{"online":true}', { qos: 1 }).then(() => answered.push(['flooder', performance.now() - t0]));
    await new Promise((r) => setTimeout(r, 50));
    await good.publishAsync(topics.status('kl-good'), '{"online":true}', { qos: 1 }).then(() => answered.push(['good', performance.now() - t0]));
    await floodAck;
    expect(answered.map(([who]) => who)).toEqual(['good', 'flooder']);
    expect(answered[1]![1], 'the flooder\u2019s PUBACK came before its socket was read again').toBeGreaterThanOrEqual(QOS0_PAUSE_MS - 50);
    expect(errors.some((e) => e.includes('HW_ERR_RATE_LIMITED'))).toBe(true);
    const dropped = (await h.metrics.getSingleMetric('huewatch_broker_quota_total')!.get()).values.find((v) => v.labels.action === 'dropped')?.value ?? 0;
    expect(dropped).toBeGreaterThan(0);
  });
});
