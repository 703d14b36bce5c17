import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorWithSubackPacket, MqttClient } from 'mqtt';
import { alertEvent, subscriptions, topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { collect, connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * Residents' apps over MQTT-over-WebSocket (DESIGN.md "Who may do what": anonymous, read alerts,
 * publish nothing): a real MQTT.js client on ws://…/mqtt of the platform's broker.
 */
describe('a resident over MQTT over WebSocket', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let device: MqttClient;
  let resident: MqttClient;
  // within the last hour: a reading received more than an hour after its ts is not current (rules/lateness.ts)
  const T0 = Date.now() - 57 * 60_000;
  let seq = 0;
  const wsUrl = () => `ws://127.0.0.1:${platform.wsPort}/mqtt`;
  const publishLevel = (minutes: number, level: number) =>
    device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: T0 + minutes * 60_000, seq: ++seq, m: { water_level: level } }), { qos: 1 });

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
    // the alert is raised before the resident connects: it must come as the retained message
    const watcher = await connectClient(wsUrl(), { clientId: 'resident-watcher' });
    const seen = collect(watcher);
    await watcher.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    await publishLevel(0, 0.8);
    await publishLevel(10, 1.2);
    await waitFor(() => seen.some((m) => m.payload.length > 0), 2000, 'the alert to be raised');
    await watcher.endAsync();
  });

  afterAll(async () => {
    await resident?.endAsync(true);
    await device?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('gets the retained alert on connect, then the Update, then the Cancel and the cleared retained message', async () => {
    resident = await connectClient(wsUrl(), { clientId: 'resident-phone-1' });
    const seen = collect(resident);
    const [granted] = await resident.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    expect(granted?.qos).toBe(1);
    const retained = await waitFor(() => seen.find((m) => m.payload.length > 0), 2000, 'the retained alert');
    expect(retained.retain).toBe(true);
    expect(retained.topic).toBe(topics.alert('kim-long', 'flood:kim-long'));
    const first = alertEvent.parse(JSON.parse(retained.payload));
    expect(first).toMatchObject({ msgType: 'Alert', level: 1, status: 'active' });

    await publishLevel(20, 2.3);
    const update = await waitFor(() => seen.slice(1).find((m) => m.payload.length > 0), 2000, 'the Update');
    expect(update.retain).toBe(false); // a live delivery, not a retained replay [MQTT-3.3.1-9]
    expect(alertEvent.parse(JSON.parse(update.payload))).toMatchObject({ id: first.id, msgType: 'Update', eventSeq: 2, level: 2 });

    for (const [m, v] of [[30, 0.9], [40, 0.85], [50, 0.8]] as const) await publishLevel(m, v);
    const cancelAt = await waitFor(() => { const i = seen.findIndex((m) => m.payload.includes('"Cancel"')); return i >= 0 ? i : undefined; }, 3000, 'the Cancel');
    expect(alertEvent.parse(JSON.parse(seen[cancelAt]!.payload))).toMatchObject({ id: first.id, status: 'resolved' });
    // the empty retained payload that clears the topic reaches live subscribers too
    await waitFor(() => seen.slice(cancelAt + 1).some((m) => m.payload === '' && m.topic === retained.topic), 2000, 'the clearing message');

    const late = await connectClient(wsUrl(), { clientId: 'resident-phone-2' });
    const lateSeen = collect(late);
    await late.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    // other rules (rate of rise, staleness) may hold their own alerts for the area; this one is gone
    expect(lateSeen.filter((m) => m.topic === retained.topic)).toEqual([]);
    await late.endAsync();
  });

  it('refuses a subscription outside what residents may read with SUBACK 0x80', async () => {
    const client = await connectClient(wsUrl(), { clientId: 'resident-curious' });
    // MQTT.js rejects a subscribe with any refused filter, carrying the SUBACK
    const err = await client.subscribeAsync([subscriptions.allTelemetry, subscriptions.areaAlerts('phu-oc')], { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e as ErrorWithSubackPacket,
    );
    expect(err?.packet.granted).toEqual([0x80, 1]); // [MQTT-3.9.3-2]: one return code per filter, in order
    expect(client.connected).toBe(true); // a refused filter does not cost the connection
    await client.endAsync();
  });

  it('delivers nothing a resident publishes, and drops the connection that tried', async () => {
    const observer = await connectClient(wsUrl(), { clientId: 'resident-observer' });
    const seen = collect(observer);
    await observer.subscribeAsync(subscriptions.areaAlerts('huong-so'), { qos: 1 });
    const forger = await connectClient(wsUrl(), { clientId: 'resident-forger' });
    const closed = new Promise<void>((r) => forger.once('close', () => r()));
    const fake = JSON.stringify({ headline: { vi: 'Vỡ đập!', en: 'Dam burst!' } });
    forger.publish(topics.alert('huong-so', 'flood:huong-so'), fake, { qos: 0, retain: true });
    await closed; // MQTT 3.1.1 has no PUBLISH refusal code: the broker closes [MQTT-3.3.5-2]
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
    // nor was it retained for whoever subscribes next
    const next = await connectClient(wsUrl(), { clientId: 'resident-next' });
    const nextSeen = collect(next);
    await next.subscribeAsync(subscriptions.areaAlerts('huong-so'), { qos: 1 });
    await new Promise((r) => setTimeout(r, 150));
    expect(nextSeen).toEqual([]);
    await Promise.all([observer.endAsync(), next.endAsync(), forger.endAsync(true)]);
  });
});
