import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { AlertEvent } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import type { QualityReport } from '../rules/quality.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * `GET /api/v1/alerts/quality` on a running platform: a Kim Long sensor sends a flood over MQTT
 * that crosses alarm levels 1 and 2, and the figures come back from what the platform stored.
 */
describe('alert quality over the API', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let device: MqttClient;
  const get = async (path: string, token?: string) => {
    const res = await fetch(platform.httpUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'kl-q1', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-q1', password: secret, clientId: 'kl-q1' });
  }, 60_000);
  afterAll(async () => {
    await device?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('counts each alarm-level crossing the sensor made as alerted on its reading, with no false alert and no flap', async () => {
    // live readings, a few ms apart: 0.6 m, then BĐ1 (1.0 m) and BĐ2 (2.0 m) crossed, then a fall within holdFall
    let seq = 0;
    for (const level of [0.6, 1.2, 2.3, 1.5]) {
      await device.publishAsync('huewatch/v1/telemetry/kl-q1', JSON.stringify({ ts: Date.now(), seq: seq++, m: { water_level: level } }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(async () => {
      const { body } = await get('/api/v1/alerts', platform.viewerToken);
      return (body.alerts as AlertEvent[]).some((a) => a.key === 'flood:kim-long' && a.level === 2);
    }, 10_000, 'the Kim Long alert at level 2');

    const { status, body } = await get('/api/v1/alerts/quality', platform.viewerToken);
    expect(status).toBe(200);
    const report = body as QualityReport & { from: string; to: string };
    const kimLong = report.rules.find((r) => r.rule === 'flood-kim-long');
    expect(kimLong).toMatchObject({ crossings: 2, alerted: 2, late: 0, missed: 0, falseAlerts: 0, flaps: 0, peak: { value: 2.3 } });
    expect(kimLong!.detail.map((c) => [c.level, c.value, c.outcome])).toEqual([[1, 1.2, 'alerted'], [2, 2.3, 'alerted']]);
    expect(kimLong!.alerts).toHaveLength(1);
    expect(kimLong!.alerts[0]).toMatchObject({ maxLevel: 2, resolvedAt: null });
    expect(kimLong!.leadTimeMs).toBeGreaterThan(0);
    expect(report.totals).toMatchObject({ missed: 0, falseAlerts: 0, flaps: 0 });
  });

  it('refuses callers without a token, and a period that ends before it starts, with stable codes', async () => {
    expect(await get('/api/v1/alerts/quality')).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await get('/api/v1/alerts/quality?from=2025-10-30T00:00:00Z&to=2025-10-29T00:00:00Z', platform.viewerToken)).toMatchObject({ status: 400, body: { code: 'HW_ERR_BAD_REQUEST' } });
    expect(await get('/api/v1/alerts/quality?from=yesterday', platform.viewerToken)).toMatchObject({ status: 400, body: { code: 'HW_ERR_BAD_REQUEST' } });
  });
});
