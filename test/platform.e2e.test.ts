import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { alertEvent, subscriptions, topics, type AlertEvent } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { collect, connectClient, openSse, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

const run = promisify(execFile);

/**
 * The foundation path, end to end over real sockets: a device publishes over MQTT, the reading is
 * stored and served by the HTTP API, and Kim Long crossing its alarm levels (1.0 / 2.0 / 3.5 m,
 * Decision 05/2020/QĐ-TTg) raises one alert that is updated, survives a restart and resolves.
 */
describe('the platform end to end', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let device: MqttClient;
  let secret: string;
  // Readings are replayed from 28 min ago, a minute or more apart: recent enough that the
  // station is not offline (its staleness rule allows 30 min of silence), long enough for the
  // 15-minute hold before an alarm level is lowered.
  const T0 = Date.now() - 28 * 60_000;
  const at = (minutes: number) => T0 + minutes * 60_000;
  const FLOOD = 'flood:kim-long';
  const floodEvents = (msgs: Array<{ payload: string }>) =>
    msgs.filter((m) => m.payload.length > 0).map((m) => alertEvent.parse(JSON.parse(m.payload))).filter((e) => e.key === FLOOD);
  const floodSse = (events: Array<{ event: string; data: string }>) =>
    events.filter((e) => e.event === 'alert').map((e) => JSON.parse(e.data) as AlertEvent).filter((e) => e.key === FLOOD);
  let seq = 0;

  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(platform.httpUrl + path, init);
    return { status: res.status, body: (await res.json()) as any };
  };
  const publishLevel = (minutes: number, level: number) =>
    device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: at(minutes), seq: ++seq, m: { water_level: level, battery_v: 12.6 } }), { qos: 1 });
  const latestLevel = async () => (await api('/api/v1/stations/kim-long')).body.latest?.water_level;

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    secret = await registerDevice(platform, 'kl-01', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
  });

  afterAll(async () => {
    await device?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('stores a reading published over MQTT and serves it through the API within a second', async () => {
    const sent = Date.now();
    await publishLevel(0, 0.8);
    const latest = await waitFor(latestLevel, 1000, 'the reading in the API');
    expect(Date.now() - sent).toBeLessThan(1000);
    expect(latest).toEqual({ value: 0.8, ts: new Date(at(0)).toISOString(), quality: 'ok', device: 'kl-01' });
    const series = await api(`/api/v1/stations/kim-long/series?metric=water_level&from=${at(-1)}&to=${at(1)}`);
    expect(series.body.points).toEqual([{ ts: new Date(at(0)).toISOString(), value: 0.8 }]);
  });

  it('accepts a reading published with mosquitto_pub', async () => {
    // A second gauge at Kim Long: the broker ties a device's MQTT client id to its device id.
    const secret2 = await registerDevice(platform, 'kl-02', 'kim-long');
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(platform.mqttPort), '-u', 'kl-02', '-P', secret2, '-i', 'kl-02', '-q', '1',
      '-t', topics.telemetry('kl-02'), '-m', JSON.stringify({ ts: at(1), m: { water_level: 0.9 } })]);
    await waitFor(async () => (await latestLevel())?.value === 0.9, 1000, 'the mosquitto_pub reading');
  });

  it('raises a flood alert on the first reading at alarm level 1, updates it at level 2, and keeps it across a restart', async () => {
    const resident = await connectClient(platform.mqttUrl, { clientId: 'resident-1' });
    const seen = collect(resident);
    await resident.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    const sse = await openSse(platform.httpUrl + '/api/v1/stream');

    await publishLevel(2, 1.2);
    const raised = await waitFor(() => seen.find((m) => floodEvents([m]).length > 0), 1000, 'the alert on MQTT');
    const alert = alertEvent.parse(JSON.parse(raised.payload));
    expect(alert).toMatchObject({
      key: 'flood:kim-long',
      eventSeq: 1,
      msgType: 'Alert',
      status: 'active',
      category: 'Met',
      severity: 'Moderate',
      urgency: 'Immediate',
      certainty: 'Observed',
      level: 1,
      area: { codes: ['kim-long'] },
      source: { station: 'kim-long', metric: 'water_level', value: 1.2, threshold: 1.0, observedAt: new Date(at(2)).toISOString() },
    });
    expect(alert.headline.vi).toMatch(/Kim Long/);
    expect(alert.headline.vi).toMatch(/[Bb]áo động 1/);
    expect(raised.topic).toBe(topics.alert('kim-long', 'flood:kim-long'));
    await waitFor(() => floodSse(sse.events).length > 0, 1000, 'the alert on SSE');
    expect(floodSse(sse.events)[0]).toEqual(alert);

    await publishLevel(3, 2.3);
    const update = await waitFor(() => floodEvents(seen).find((e) => e.eventSeq === 2), 1000, 'the Update');
    expect(update).toMatchObject({ id: alert.id, msgType: 'Update', level: 2, severity: 'Severe', source: { value: 2.3, threshold: 2.0 } });
    await waitFor(() => floodSse(sse.events).length === 2, 1000, 'the Update on SSE');

    // Still at level 2: no new event.
    await publishLevel(4, 2.4);
    await waitFor(async () => (await latestLevel())?.value === 2.4, 1000);
    await sse.close();
    await resident.endAsync();
    expect(floodEvents(seen)).toHaveLength(2);

    // Restart on the same data folder.
    await device.endAsync();
    await platform.stop();
    platform = await startTestPlatform(data.dir);
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });

    const late = await connectClient(platform.mqttUrl, { clientId: 'resident-2' });
    const lateSeen = collect(late);
    const sse2 = await openSse(platform.httpUrl + '/api/v1/stream');
    await late.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    const retained = await waitFor(() => lateSeen.find((m) => floodEvents([m]).length > 0), 1000, 'the retained alert after restart');
    expect(retained.retain).toBe(true);
    expect(JSON.parse(retained.payload)).toMatchObject({ id: alert.id, eventSeq: 2, level: 2, status: 'active' });

    const active = await api('/api/v1/alerts?status=active');
    expect(active.body.alerts.filter((a: AlertEvent) => a.key === FLOOD).map((a: AlertEvent) => [a.id, a.level])).toEqual([[alert.id, 2]]);
    const stored = await api(`/api/v1/stations/kim-long/series?metric=water_level&from=${at(-1)}&to=${at(5)}`);
    expect(stored.body.points.map((p: { value: number }) => p.value)).toEqual([0.8, 0.9, 1.2, 2.3, 2.4]);

    // A reading that changes nothing after the restart fires nothing again.
    await publishLevel(5, 2.5);
    await waitFor(async () => (await latestLevel())?.value === 2.5, 1000);
    await new Promise((r) => setTimeout(r, 300));
    expect(floodSse(sse2.events)).toEqual([]);
    expect(floodEvents(lateSeen)).toHaveLength(1);

    // Recession: below level 1 minus hysteresis, held past the hold time, resolves the same alert.
    await publishLevel(6, 0.9);
    await publishLevel(14, 0.85);
    await publishLevel(22, 0.8); // 16 min below 1.0 − 0.05 m: past the 15-minute hold
    const cancel = await waitFor(() => floodEvents(lateSeen).find((e) => e.msgType === 'Cancel'), 2000, 'the resolution');
    expect(cancel).toMatchObject({ id: alert.id, status: 'resolved', level: 0 });
    await waitFor(() => floodSse(sse2.events).some((e) => e.msgType === 'Cancel'), 1000);
    // The retained message is cleared: a resident connecting now sees nothing in force.
    const fresh = await connectClient(platform.mqttUrl, { clientId: 'resident-3' });
    const freshSeen = collect(fresh);
    await fresh.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(floodEvents(freshSeen)).toEqual([]);
    await Promise.all([fresh.endAsync(), late.endAsync(), sse2.close()]);
    expect((await api('/api/v1/alerts?status=active')).body.alerts.filter((a: AlertEvent) => a.key === FLOOD)).toEqual([]);
    const history = await api(`/api/v1/alerts/${alert.id}`);
    expect(history.body.history.map((h: AlertEvent) => h.msgType)).toEqual(['Alert', 'Update', 'Cancel']);
  });
});
