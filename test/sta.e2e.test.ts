import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../store/test-servers.ts';
import { connectClient, waitFor } from './helpers.ts';
import { launchHuewatch, stopAllHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * Issue #15 §1: OGC SensorThings API 1.1 on the running platform (`huewatch start` with the
 * simulator), read as a partner would: HTTP on /sta/v1.1 and, anonymously, MQTT on
 * v1.1/Datastreams('…')/Observations. The Observations are the platform's stored readings.
 */
const DS = 'kim-long:water_level';
const TOPIC = `v1.1/Datastreams('${DS}')/Observations`;

interface StaObservation {
  '@iot.id': string;
  '@iot.selfLink': string;
  phenomenonTime: string;
  result: number;
  'Datastream@iot.navigationLink': string;
}

describe('SensorThings API on huewatch start', () => {
  let hw: HuewatchChild;
  let sta: string;
  const getJson = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { value: Array<Record<string, unknown>> } };
  };

  beforeAll(async () => {
    hw = await launchHuewatch({ env: { SIM: undefined, MQTT_PORT: String(await freePort()), SIM_INTERVAL_MS: '500' } });
    await hw.ready;
    sta = `${hw.httpUrl}/sta/v1.1`;
  }, 180_000);
  afterAll(stopAllHuewatch);

  it('lists its entity sets, conformance classes and MQTT endpoint at the root', async () => {
    const { status, body } = await getJson(sta);
    expect(status).toBe(200);
    expect((body.value as Array<{ name: string; url: string }>).find((v) => v.name === 'Datastreams')?.url).toBe(`${sta}/Datastreams`);
    const settings = body.serverSettings as Record<string, { endpoints: string[] } | string[]>;
    expect(settings.conformance).toContain('http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates');
    const mqtt = settings['http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates'] as { endpoints: string[] };
    expect(mqtt.endpoints).toContain(hw.mqttUrl);
  });

  it('serves every station as a Thing with its Datastreams, and the simulated readings as Observations', async () => {
    const things = await getJson(`${sta}/Things?$count=true&$select=id,name&$expand=Datastreams($select=id)`);
    const stations = (await (await fetch(`${hw.httpUrl}/api/v1/stations`)).json()) as { stations: Array<{ id: string }> };
    expect(things.body['@iot.count']).toBe(stations.stations.length);
    expect(things.body.value.find((t) => t['@iot.id'] === 'kim-long')).toMatchObject({ name: 'Kim Long', Datastreams: [{ '@iot.id': DS }] });
    const latest = await waitFor(async () => {
      const r = await getJson(`${sta}/Datastreams('${DS}')/Observations?$top=2&$count=true`);
      // a third reading must exist for a next page
      return r.body.value.length === 2 && Number(r.body['@iot.count']) > 2 && r.body;
    }, 60_000, 'three readings of Kim Long');
    expect(latest['@iot.nextLink']).toMatch(/\$skip=2/);
    // the same value as the platform's own API: one copy of the data
    const station = (await (await fetch(`${hw.httpUrl}/api/v1/stations/kim-long`)).json()) as { latest: { water_level: { ts: string; value: number } } };
    const atTs = await getJson(`${sta}/Datastreams('${DS}')/Observations?$filter=phenomenonTime eq ${station.latest.water_level.ts}`);
    expect(atTs.body.value).toEqual([expect.objectContaining({ result: station.latest.water_level.value, phenomenonTime: station.latest.water_level.ts })]);
  });

  it('answers a bad query with 400 and a message, an unknown Thing with 404', async () => {
    const bad = await getJson(`${sta}/Things?$filter=name%20eq`);
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toMatch(/\$filter: expected an expression/);
    expect((await getJson(`${sta}/Things('atlantis')`)).status).toBe(404);
  });

  it('an anonymous mosquitto_sub receives new Observations of a Datastream, the same JSON as over HTTP', async () => {
    const port = new URL(hw.mqttUrl).port;
    const sub = spawn('mosquitto_sub', ['-V', '311', '-h', '127.0.0.1', '-p', port, '-t', TOPIC, '-C', '1', '-W', '90'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => sub.on('exit', resolve));
    expect(code, out).toBe(0);
    const obs = JSON.parse(out) as StaObservation;
    expect(obs['@iot.id']).toMatch(/^kim-long:water_level:\d+$/);
    expect(obs['Datastream@iot.navigationLink']).toBe(`${obs['@iot.selfLink']}/Datastream`);
    // published once stored: its self link answers at once
    const byLink = await getJson(obs['@iot.selfLink']);
    expect(byLink.status).toBe(200);
    expect(byLink.body).toMatchObject({ result: obs.result, phenomenonTime: obs.phenomenonTime });
  }, 120_000);

  it('an anonymous client cannot publish on v1.1/…: subscribers never see it, the broker logs the refusal', async () => {
    const reader = await connectClient(hw.mqttUrl, { clientId: 'sta-reader' });
    const seen: string[] = [];
    reader.on('message', (_t, p) => seen.push(p.toString()));
    const [granted] = await reader.subscribeAsync('v1.1/#', { qos: 0 });
    expect(granted!.qos).toBe(0);
    const forger = await connectClient(hw.mqttUrl, { clientId: 'sta-forger', reconnectPeriod: 0 });
    await forger.publishAsync(TOPIC, JSON.stringify({ forged: true, result: 99 }), { qos: 0 }).catch(() => undefined);
    await forger.publishAsync('v1.1/Observations', JSON.stringify({ forged: true, result: 99 }), { qos: 0 }).catch(() => undefined);
    // the platform's own Observations keep arriving; the forged ones never do
    await waitFor(() => seen.length >= 4, 30_000, 'Observations from the platform');
    // the broker says why (a warning on stderr, at most once per client and interval)
    await waitFor(() => /"clientId":"sta-forger","reason":"publish_denied","topic":"v1\.1\/Datastreams/.test(hw.output()), 10_000, 'the refusal in the log');
    expect(seen.filter((s) => s.includes('forged'))).toEqual([]);
    await forger.endAsync(true);
    await reader.endAsync();
  }, 60_000);
});
