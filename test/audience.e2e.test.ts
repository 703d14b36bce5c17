import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ErrorWithSubackPacket, MqttClient } from 'mqtt';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent, topics, type AlertEvent } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { collect, connectClient, openSse, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

const run = promisify(execFile);
const XSD = new URL('./fixtures/cap/CAP-v1.2.xsd', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const OPS_TREE = 'huewatch/v1/ops/alerts/#';

/**
 * Rules with `audience: operators` (device offline, sensor fault, dam operation) raise alerts for
 * the operations centre only. A sensor fault really fires here (an out-of-range reading from a
 * registered station device), beside a public flood alert of the same station, and every way a
 * resident reads alerts is tried anonymously: MQTT, the HTTP API, the SSE stream, CAP, Web Push,
 * and the residents' page and console in a browser. The viewer token sees the fault everywhere.
 */
describe('alerts for operators only', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let device: MqttClient;
  let resident: MqttClient;
  let seen: ReturnType<typeof collect>;
  let anonStream: Awaited<ReturnType<typeof openSse>>;
  let viewerStream: Awaited<ReturnType<typeof openSse>>;
  let queryTokenStream: Awaited<ReturnType<typeof openSse>>;
  let fault: AlertEvent;
  let flood: AlertEvent;
  const t0 = Date.now() - 10 * 60_000;

  const viewer = () => ({ authorization: `Bearer ${platform.viewerToken}` });
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(platform.httpUrl + path, { headers });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as any };
  };
  const keys = (alerts: AlertEvent[]) => alerts.map((a) => a.key);
  const streamed = (s: typeof anonStream) => s.events.filter((e) => e.event === 'alert').map((e) => alertEvent.parse(JSON.parse(e.data)));

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
    resident = await connectClient(platform.mqttUrl, { clientId: 'resident-audience' });
    seen = collect(resident);
    const [granted] = await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    expect(granted?.qos).toBe(1);
    anonStream = await openSse(platform.httpUrl + '/api/v1/stream');
    viewerStream = await openSse(platform.httpUrl + '/api/v1/stream', viewer());
    // EventSource cannot send headers: the console passes its token in the query (RFC 6750 §2.3)
    queryTokenStream = await openSse(`${platform.httpUrl}/api/v1/stream?access_token=${encodeURIComponent(platform.viewerToken)}`);

    // 150 m is outside water_level's physical range (contract/metrics.ts): a sensor fault, for
    // operators; then 1.3 m, above alarm level 1 at Kim Long: a flood alert, for residents.
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: t0, seq: 1, m: { water_level: 150 } }), { qos: 1 });
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: t0 + 60_000, seq: 2, m: { water_level: 1.3 } }), { qos: 1 });
    const all = async () => ((await get('/api/v1/alerts', viewer())).json() as { alerts: AlertEvent[] }).alerts;
    fault = await waitFor(async () => (await all()).find((a) => a.key === 'sensor-fault:kim-long'), 10_000, 'the sensor-fault alert, with the viewer token');
    flood = await waitFor(async () => (await all()).find((a) => a.key === 'flood:kim-long'), 10_000, 'the flood alert, with the viewer token');
    expect(fault.area.codes).toEqual(['operators']);
  });

  afterAll(async () => {
    await Promise.all([anonStream?.close(), viewerStream?.close(), queryTokenStream?.close()]);
    await Promise.all([device?.endAsync(), resident?.endAsync()]);
    await platform?.stop();
    await data?.cleanup();
  });

  it('gives an anonymous MQTT subscriber of huewatch/v1/alerts/# the flood alert and not the sensor fault', async () => {
    // the fault was published before the flood alert (one engine queue): had it been on this tree
    // it would have arrived first
    await waitFor(() => seen.some((m) => m.payload.includes(flood.id)), 10_000, 'the flood alert on MQTT');
    expect(seen.filter((m) => m.payload.includes(fault.id) || m.topic.includes('operators') || m.payload.includes('"operators"'))).toEqual([]);

    const late = await connectClient(platform.mqttUrl, { clientId: 'resident-audience-late' });
    const lateSeen = collect(late);
    await late.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    await waitFor(() => lateSeen.some((m) => m.retain && m.payload.includes(flood.id)), 5000, 'the retained flood alert');
    expect(lateSeen.filter((m) => m.payload.includes(fault.id))).toEqual([]);
    await late.endAsync();
  });

  it('refuses the operators’ alert tree to an anonymous MQTT client with SUBACK 0x80', async () => {
    const curious = await connectClient(platform.mqttUrl, { clientId: 'resident-curious-ops' });
    const curiousSeen = collect(curious);
    for (const filter of [OPS_TREE, `huewatch/v1/ops/alerts/${fault.key.replace(':', '_')}`, 'huewatch/v1/ops/#', 'huewatch/v1/+/alerts/#']) {
      const err = await curious.subscribeAsync(filter, { qos: 1 }).then(
        () => undefined,
        (e: unknown) => e as ErrorWithSubackPacket,
      );
      expect(err?.packet.granted, filter).toEqual([0x80]);
    }
    // the old place of operators' alerts holds nothing either
    await curious.subscribeAsync('huewatch/v1/alerts/operators/#', { qos: 1 });
    await curious.subscribeAsync('huewatch/v1/alerts/kim-long/#', { qos: 1 }); // the flood's retained copy marks the end of the retained burst
    await waitFor(() => curiousSeen.some((m) => m.payload.includes(flood.id)), 5000, 'the retained flood alert');
    expect(curiousSeen.filter((m) => m.payload.includes(fault.id))).toEqual([]);
    expect(curious.connected).toBe(true);
    await curious.endAsync();
  });

  it('lists the sensor fault to the viewer token only', async () => {
    const anon = await get('/api/v1/alerts');
    expect(anon.status).toBe(200);
    expect(keys(anon.json().alerts)).toContain('flood:kim-long');
    expect(keys(anon.json().alerts)).not.toContain(fault.key);
    const active = await get('/api/v1/alerts?status=active');
    expect(keys(active.json().alerts)).not.toContain(fault.key);

    const withToken = await get('/api/v1/alerts?status=active', viewer());
    expect(keys(withToken.json().alerts)).toEqual(expect.arrayContaining([fault.key, flood.key]));
    // a wrong token is refused, not quietly treated as anonymous
    expect(await get('/api/v1/alerts', { authorization: 'Bearer not-a-token' })).toMatchObject({ status: 401 });
  });

  it('answers 404 for the sensor fault and its history anonymously, and shows it to the viewer token', async () => {
    const anon = await get(`/api/v1/alerts/${fault.id}`);
    expect(anon.status).toBe(404);
    expect(anon.json()).toMatchObject({ code: 'HW_ERR_NOT_FOUND' });
    expect(anon.text).not.toContain('sensor');
    expect((await get(`/api/v1/alerts/${flood.id}`)).status).toBe(200);

    const withToken = await get(`/api/v1/alerts/${fault.id}`, viewer());
    expect(withToken.status).toBe(200);
    expect(withToken.json()).toMatchObject({ id: fault.id, key: 'sensor-fault:kim-long', history: [{ eventSeq: 1, area: { codes: ['operators'] } }] });
  });

  it('streams the sensor fault over SSE to the viewer token only', async () => {
    await waitFor(() => streamed(anonStream).some((e) => e.id === flood.id), 10_000, 'the flood alert on the anonymous stream');
    expect(streamed(anonStream).filter((e) => e.id === fault.id)).toEqual([]);
    for (const s of [viewerStream, queryTokenStream]) {
      await waitFor(() => streamed(s).some((e) => e.id === flood.id), 10_000, 'the flood alert on a stream with a token');
      expect(streamed(s).map((e) => e.key)).toEqual(expect.arrayContaining([fault.key, flood.key]));
    }
    // resuming with Last-Event-ID replays what this caller may see, nothing more
    const resumed = await openSse(platform.httpUrl + '/api/v1/stream', { 'last-event-id': '0' });
    try {
      await waitFor(() => streamed(resumed).some((e) => e.id === flood.id), 5000, 'the flood alert on resume');
      expect(streamed(resumed).filter((e) => e.id === fault.id)).toEqual([]);
    } finally {
      await resumed.close();
    }
    const refused = await fetch(platform.httpUrl + '/api/v1/stream?access_token=wrong');
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
  });

  it('leaves the sensor fault out of the public CAP feed', async () => {
    const feed = await get('/cap/feed.atom');
    expect(feed.status).toBe(200);
    expect(feed.text).toContain(`/cap/${flood.id}.xml`);
    expect(feed.text).not.toContain(fault.id);
  });

  it('answers 404 for the sensor fault’s CAP message anonymously, and a valid Restricted CAP message to the viewer token', async () => {
    const anon = await get(`/cap/${fault.id}.xml`);
    expect(anon.status).toBe(404);
    expect(anon.text).not.toContain('<alert');
    expect((await get(`/cap/${fault.id}.xml?seq=1`)).status).toBe(404);
    const pub = await get(`/cap/${flood.id}.xml`);
    expect(pub.text).toContain('<scope>Public</scope>');

    const withToken = await get(`/cap/${fault.id}.xml`, viewer());
    expect(withToken.status).toBe(200);
    expect(withToken.text).toContain('<scope>Restricted</scope>');
    expect(withToken.text).toMatch(/<restriction>[^<]+<\/restriction>/);
    expect(withToken.headers.get('cache-control')).toMatch(/private/);
    // CAP 1.2 §3.2.2: a Restricted message carries its restriction; the OASIS schema checks the order
    const file = join(data.dir, 'restricted.xml');
    await writeFile(file, withToken.text);
    const { stderr } = await run('xmllint', ['--noout', '--schema', XSD, file]);
    expect(stderr).toMatch(/validates/);
  });

  it('refuses a Web Push subscription for the operators’ area', async () => {
    const res = await fetch(platform.httpUrl + '/api/v1/push/subscriptions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        subscription: { endpoint: 'https://push.example/sub/1', keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' } },
        areas: ['operators'],
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'HW_ERR_BAD_REQUEST' });
  });

  describe('in a browser', () => {
    let browser: BrowserContext;
    beforeAll(async () => {
      browser = await chromium.launchPersistentContext(join(data.dir, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        timeout: 20_000,
      });
    });
    afterAll(async () => browser?.close());

    it('shows the sensor fault in the IOC console once a viewer token is entered, and not before', async () => {
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(platform.httpUrl + '/');
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#alerts li[data-key="flood:kim-long"]');
      expect(await page.$$('#alerts li[data-key="sensor-fault:kim-long"]')).toHaveLength(0);
      await page.fill('#token', platform.viewerToken);
      await page.click('#login button[type="submit"]');
      await page.waitForSelector('#alerts li[data-key="sensor-fault:kim-long"]');
      await page.close();
    });
  });
});
