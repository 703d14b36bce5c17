import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { alertEvent, subscriptions, topics, type AlertEvent } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { collect, connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * What the operations centre does through the platform's API, over real sockets: acknowledge and
 * cancel with roles checked, declare a reservoir release order (Decision 1606/QĐ-TTg), read the
 * alert as CAP; and a dam PLC polled over Modbus reaching the same store as MQTT readings.
 */
describe('operating the platform', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let device: MqttClient;
  let resident: MqttClient;
  let seen: ReturnType<typeof collect>;
  const t0 = Date.now() - 20 * 60_000;
  const post = async (path: string, token: string | undefined, body?: unknown) => {
    const res = await fetch(platform.httpUrl + path, {
      method: 'POST',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const floodAlert = async (): Promise<AlertEvent> =>
    waitFor(async () => {
      const body = (await (await fetch(platform.httpUrl + '/api/v1/alerts')).json()) as { alerts: AlertEvent[] };
      return body.alerts.find((a) => a.key === 'flood:kim-long');
    }, 2000, 'the flood alert');

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
    resident = await connectClient(platform.mqttUrl, { clientId: 'resident-ops' });
    seen = collect(resident);
    await resident.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    for (const [i, level] of [0.8, 1.3].entries()) {
      await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: t0 + i * 60_000, seq: i + 1, m: { water_level: level } }), { qos: 1 });
    }
  });

  afterAll(async () => {
    await Promise.all([device?.endAsync(), resident?.endAsync()]);
    await platform?.stop();
    await data?.cleanup();
  });

  it('refuses to acknowledge without a token or with the viewer role', async () => {
    const alert = await floodAlert();
    expect(await post(`/api/v1/alerts/${alert.id}/ack`, undefined)).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await post(`/api/v1/alerts/${alert.id}/ack`, platform.viewerToken)).toMatchObject({ status: 403, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await post('/api/v1/alerts/no-such-alert/ack', platform.operatorToken)).toMatchObject({ status: 404, body: { code: 'HW_ERR_NOT_FOUND' } });
  });

  it('keeps who acknowledged, and an operator cancel with a reason ends the alert for residents', async () => {
    const alert = await floodAlert();
    const acked = await post(`/api/v1/alerts/${alert.id}/ack`, platform.operatorToken);
    expect(acked).toMatchObject({ status: 200, body: { id: alert.id, status: 'acknowledged', operator: { user: 'operator' } } });
    expect(await post(`/api/v1/alerts/${alert.id}/cancel`, platform.operatorToken, { reason: '' })).toMatchObject({ status: 400, body: { code: 'HW_ERR_BAD_REQUEST' } });
    const cancelled = await post(`/api/v1/alerts/${alert.id}/cancel`, platform.operatorToken, { reason: 'gauge washed out, reading confirmed wrong' });
    expect(cancelled).toMatchObject({ status: 200, body: { id: alert.id, msgType: 'Cancel', status: 'cancelled', operator: { user: 'operator', reason: 'gauge washed out, reading confirmed wrong' } } });
    const events = await waitFor(() => {
      const flood = seen.filter((m) => m.payload.length > 0).map((m) => alertEvent.parse(JSON.parse(m.payload))).filter((e) => e.id === alert.id);
      return flood.some((e) => e.status === 'cancelled') ? flood : undefined;
    }, 2000, 'the cancel on MQTT');
    expect(events.map((e) => e.status)).toEqual(['active', 'acknowledged', 'cancelled']);
    const history = (await (await fetch(`${platform.httpUrl}/api/v1/alerts/${alert.id}`)).json()) as { history: AlertEvent[] };
    expect(history.history.map((h) => h.status)).toEqual(['active', 'acknowledged', 'cancelled']);
  });

  it('serves every alert as a CAP 1.2 message', async () => {
    const alert = await floodAlert();
    const res = await fetch(`${platform.httpUrl}/cap/${alert.id}.xml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/cap\+xml/);
    const xml = await res.text();
    expect(xml).toContain('<msgType>Cancel</msgType>');
    expect(xml).toContain('<language>vi-VN</language>');
    expect(xml).toMatch(/<sent>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00<\/sent>/);
  });

  it('counts deliveries per channel, with the latency since the alert was sent', async () => {
    const text = await (await fetch(platform.httpUrl + '/metrics')).text();
    const sent = (channel: string) => Number(new RegExp(`huewatch_delivery_sent_total\\{channel="${channel}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    // Alert, Update (acknowledged) and Cancel reached the API's MQTT subscription; one CAP fetch.
    expect(sent('mqtt')).toBeGreaterThanOrEqual(3);
    expect(sent('cap')).toBe(1);
    expect(text).toMatch(/huewatch_delivery_latency_seconds_count\{channel="mqtt"\} [1-9]/);
  });

  it('turns an operator’s release order into a warning for the communes downstream', async () => {
    const start = Date.now() + 2 * 3600_000;
    expect(await post('/api/v1/reservoirs/ta-trach/release-orders', platform.viewerToken, { flowMin: 500, flowMax: 800, start })).toMatchObject({ status: 403 });
    expect(await post('/api/v1/reservoirs/ta-trach/release-orders', platform.operatorToken, { flowMin: 900, flowMax: 800, start })).toMatchObject({ status: 400 });
    const order = await post('/api/v1/reservoirs/ta-trach/release-orders', platform.operatorToken, { flowMin: 500, flowMax: 800, start });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ msgType: 'Alert', status: 'active' });
    expect(order.body.headline.vi).toMatch(/Tả Trạch/);
    expect(order.body.area.codes.length).toBeGreaterThan(0);
  });
});

describe('a dam PLC on Modbus', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;

  beforeAll(async () => {
    data = await tempDir();
    // With the simulator on, each Modbus TCP device of config/modbus.yaml is a simulated PLC.
    platform = await startTestPlatform(data.dir, { SIM: '1', SIM_INTERVAL_MS: '60000', SIM_SCENARIO: 'calm' });
  });

  afterAll(async () => {
    await platform?.stop();
    await data?.cleanup();
  });

  it('stores a dam PLC’s readings polled over Modbus, like any MQTT reading', async () => {
    const latest = await waitFor(async () => {
      const body = (await (await fetch(`${platform.httpUrl}/api/v1/stations/ta-trach`)).json()) as { latest: Record<string, { device: string; value: number }> };
      return body.latest.reservoir_level;
    }, 5000, 'a polled reservoir level');
    expect(latest.device).toBe('plc-ta-trach');
    expect(latest.value).toBeGreaterThan(20);
    expect(latest.value).toBeLessThan(60);
    const metrics = await (await fetch(platform.httpUrl + '/metrics')).text();
    expect(metrics).toMatch(/huewatch_modbus_polls_total\{device="plc-ta-trach",result="ok"\} [1-9]/);
  });

  it('shows the PLC’s health in the station’s status', async () => {
    const body = (await (await fetch(`${platform.httpUrl}/api/v1/stations/ta-trach`)).json()) as { devices: Array<{ id?: string; deviceId?: string; state: string }> };
    expect(body.devices).toHaveLength(1);
    expect(JSON.stringify(body.devices[0])).toContain('plc-ta-trach');
    expect(body.devices[0]!.state).toBe('ok');
  });

  it('lets an admin set a writable register, and refuses a gate or a viewer', async () => {
    const write = (name: string, token: string, value: number) =>
      fetch(`${platform.httpUrl}/api/v1/modbus/plc-ta-trach/registers/${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ value }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    expect(await write('reporting_interval_s', platform.viewerToken, 60)).toMatchObject({ status: 403 });
    expect(await write('reporting_interval_s', platform.adminToken, 60)).toMatchObject({ status: 200, body: { deviceId: 'plc-ta-trach', register: 'reporting_interval_s', value: 60 } });
    expect(await write('no_such_register', platform.adminToken, 1)).toMatchObject({ status: 404, body: { code: 'HW_ERR_MODBUS_REGISTER_UNKNOWN' } });
    const gate = (await import('../ingest/modbus/load.ts')).loadModbusMap((await import('../ingest/modbus/load.ts')).DEFAULT_MODBUS_FILE).devices
      .find((d) => d.id === 'plc-ta-trach')!.registers.find((r) => /gate/.test(r.name))!;
    expect(await write(gate.name, platform.adminToken, 1)).toMatchObject({ status: 403, body: { code: 'HW_ERR_MODBUS_NOT_WRITABLE' } });
  });
});
