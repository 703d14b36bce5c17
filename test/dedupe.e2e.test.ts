import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { collect, connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * Issue #12.3, end to end: a rain gauge without a clock publishes 30 mm with `seq` and no `ts`,
 * and the same message comes again (a QoS 1 redelivery), also after the platform restarted. The
 * platform stores 30 mm, not 60, and no alert speaks of more (no Severe "intense rain (1 h)"
 * from a doubled 60 mm); every copy gets its PUBACK.
 */

async function metricValue(platform: Platform, name: string): Promise<number> {
  const text = await (await fetch(`${platform.httpUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

async function storedRain(platform: Platform): Promise<number[]> {
  const res = await fetch(`${platform.httpUrl}/api/v1/stations/rg-hue/series?metric=rainfall&from=${new Date(Date.now() - 3_600_000).toISOString()}`);
  const body = (await res.json()) as { points: Array<{ value: number }> };
  return body.points.map((p) => p.value);
}

async function alertsOf(platform: Platform, station: string): Promise<AlertEvent[]> {
  const res = await fetch(`${platform.httpUrl}/api/v1/alerts`, { headers: { authorization: `Bearer ${platform.operatorToken}` } });
  return ((await res.json()) as { alerts: AlertEvent[] }).alerts.filter((a) => a.source.station === station);
}

describe('a reading sent twice with the same seq is stored once', () => {
  it('stores 30 mm once from two copies without ts, and a third after a restart, and raises no rain alert', async () => {
    const data = await tempDir();
    const payload = JSON.stringify({ seq: 7, m: { rainfall: 30, battery_v: 12.4 } });
    let platform = await startTestPlatform(data.dir);
    try {
      const secret = await registerDevice(platform, 'rg-hue-01', 'rg-hue');
      const login = { username: 'rg-hue-01', password: secret, clientId: 'rg-hue-01' };
      let device = await connectClient(platform.mqttUrl, login);
      const resident = await connectClient(platform.mqttUrl, { clientId: 'resident-dedupe' });
      const heard = collect(resident);
      await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
      // publishAsync resolves on the PUBACK: each copy is acknowledged
      await device.publishAsync(topics.telemetry('rg-hue-01'), payload, { qos: 1 });
      await new Promise((r) => setTimeout(r, 50)); // a redelivery comes later: the copy gets a new receive time
      await device.publishAsync(topics.telemetry('rg-hue-01'), payload, { qos: 1 });
      expect(await storedRain(platform)).toEqual([30]);
      expect(await metricValue(platform, 'huewatch_ingest_duplicates_total')).toBe(1);
      await device.endAsync();
      await resident.endAsync();

      await platform.stop();
      platform = await startTestPlatform(data.dir);
      device = await connectClient(platform.mqttUrl, login);
      const again = await connectClient(platform.mqttUrl, { clientId: 'resident-dedupe-2' });
      const heardAgain = collect(again);
      await again.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
      await device.publishAsync(topics.telemetry('rg-hue-01'), payload, { qos: 1 });
      expect(await metricValue(platform, 'huewatch_ingest_duplicates_total')).toBe(1);
      expect(await storedRain(platform)).toEqual([30]);
      // the rules saw the reading (its observation went out on obs/) and alerted nothing
      await device.publishAsync(topics.telemetry('rg-hue-01'), JSON.stringify({ seq: 8, m: { rainfall: 0.2, battery_v: 12.4 } }), { qos: 1 });
      await waitFor(async () => (await storedRain(platform)).length === 2, 5_000, 'the next reading stored');
      // 30 mm may be a class of its own (heavy rain over 12 h); 60 would be "intense rain (1 h)", Severe
      const events = [
        ...(await alertsOf(platform, 'rg-hue')),
        ...[...heard, ...heardAgain].filter((m) => m.payload !== '' && m.topic.includes('rg-hue')).map((m) => JSON.parse(m.payload) as AlertEvent),
      ];
      expect(events.filter((a) => a.source.value > 30 || a.severity === 'Severe' || a.severity === 'Extreme')).toEqual([]);
      await device.endAsync();
      await again.endAsync();
    } finally {
      await platform.stop();
      await data.cleanup();
    }
  }, 60_000);
});
