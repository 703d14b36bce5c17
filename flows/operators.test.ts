import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATORS_AREA } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import type { Platform } from '../platform/main.ts';
import { publishEvent } from '../rules/alerts.ts';
import { kimLongAlert } from '../test/alert-fixtures.ts';
import { connectClient, startTestPlatform, tempDir, waitFor } from '../test/helpers.ts';
import { startNodeRed, type NodeRedHandle } from './run.ts';

const NODERED_SECRET = 'nodered-secret-0123456789';
const RULES_SECRET = 'rules-secret-0123456789abc';
const FLOWS_TOKEN = 'flows-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The operators' branch of the committed flows in a real Node-RED against the platform's real
 * broker: an alert for operators only (huewatch/v1/ops/alerts/#) goes to the people the API names
 * and never to the residents' SMS broadcast; the API is asked with the flows' token, and asked
 * again while it does not know the alert yet (rules publish before they write). A local server
 * stands in for the API's recipients route (the real route: test/nodered-operators.e2e.test.ts)
 * and for the mail/SMS gateway.
 */
describe('the Node-RED flows: operators\' e-mail and SMS', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let nodered: NodeRedHandle;
  let rules: MqttClient;
  const sent: Array<{ url: string; headers: IncomingHttpHeaders; body: any }> = [];
  const asked: Array<{ url: string; authorization: string | undefined }> = [];
  const RECIPIENTS: Record<string, Array<Record<string, string>>> = {
    email: [{ name: 'lan', displayName: 'Nguyễn Thị Lan', email: 'lan@ioc.example' }, { name: 'tuan', displayName: 'Tuấn', email: 'tuan@ioc.example' }],
    sms: [{ name: 'minh', displayName: 'Minh', phone: '+84912345678' }],
  };
  // FAKE API + FAKE MAIL/SMS GATEWAY
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/api\/v1\/alerts\/([^/]+)\/recipients$/.exec(url.pathname);
      if (req.method === 'GET' && m) {
        asked.push({ url: req.url ?? '', authorization: req.headers.authorization });
        if (req.headers.authorization !== `Bearer ${FLOWS_TOKEN}`) return void res.writeHead(401).end('{}');
        // the first question about each alert and channel comes before the alert is written
        if (asked.filter((a) => a.url === req.url).length === 1) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"HW_ERR_NOT_FOUND"}');
        const channel = url.searchParams.get('channel')!;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ alert: decodeURIComponent(m[1]!), channel, recipients: RECIPIENTS[channel] }));
      }
      sent.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
    });
  });

  beforeAll(async () => {
    data = await tempDir('huewatch-nodered-ops-');
    platform = await startTestPlatform(data.dir, { SVC_NODERED_SECRET: NODERED_SECRET, SVC_RULES_SECRET: RULES_SECRET });
    rules = await connectClient(platform.mqttUrl, { username: 'svc-rules', password: RULES_SECRET, clientId: 'svc-rules-ops-test' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    nodered = await startNodeRed({
      userDir: join(data.dir, 'nodered'), log: silentLogger(),
      settings: {
        MQTT_URL: platform.mqttUrl, MQTT_USER: 'svc-nodered', MQTT_PASSWORD: NODERED_SECRET,
        SMS_GATEWAY_URL: `${base}/sms`, EMAIL_API_URL: `${base}/email`,
        HUEWATCH_API_URL: `${base}/`, HUEWATCH_API_TOKEN: FLOWS_TOKEN,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await nodered?.stop();
    await rules?.endAsync();
    await platform?.stop();
    await new Promise<void>((r) => server.close(() => r()));
    await data?.cleanup();
  });

  it('sends an alert for operators only to the operators the API names, never to the residents\' SMS broadcast', async () => {
    const now = Date.now();
    const ops = kimLongAlert(now, {
      id: 'a-ops-offline-1', key: 'device-offline:kl-01', event: { vi: 'Thiết bị mất kết nối', en: 'Device offline' },
      headline: { vi: 'Trạm Kim Long mất kết nối', en: 'Kim Long station offline' },
      area: { ...kimLongAlert().area, codes: [OPERATORS_AREA] },
    });
    await publishEvent(rules, ops);

    await waitFor(() => sent.filter((r) => r.body.alertId === ops.id).length >= 3, 30_000, 'two e-mails and one SMS for the operators\' alert');
    await sleep(2000); // anything more the flows would send
    const forOps = sent.filter((r) => r.body.alertId === ops.id);
    expect(forOps.map((r) => `${r.url} ${r.body.to}`).sort()).toEqual(['/email lan@ioc.example', '/email tuan@ioc.example', '/sms +84912345678']);
    const lan = forOps.find((r) => r.body.to === 'lan@ioc.example')!;
    expect(lan.body.subject).toBe('[HueWatch] Trạm Kim Long mất kết nối / Kim Long station offline');
    expect(lan.body.text).toMatch(/^Trạm Kim Long mất kết nối\n[\s\S]*\n---\nKim Long station offline\n/);
    expect(lan.headers['idempotency-key']).toBe(`${ops.id}:1:lan`);
    const sms = forOps.find((r) => r.url === '/sms')!;
    expect(sms.body).toMatchObject({ to: '+84912345678', name: 'minh', areas: [OPERATORS_AREA] });
    expect(sms.body.text.length).toBeLessThanOrEqual(300);

    // asked with the flows' token only, and asked again after the 404
    expect(asked.every((a) => a.authorization === `Bearer ${FLOWS_TOKEN}`)).toBe(true);
    expect(asked.filter((a) => a.url === `/api/v1/alerts/${ops.id}/recipients?channel=email`)).toHaveLength(2);
    expect(asked.filter((a) => a.url === `/api/v1/alerts/${ops.id}/recipients?channel=sms`)).toHaveLength(2);
  }, 60_000);

  it('sends a residents\' alert to the SMS broadcast and to the operators alike, once each, and no IOC e-mail without EMAIL_TO', async () => {
    const pub = kimLongAlert(Date.now(), { id: 'a-kim-long-pub' });
    await publishEvent(rules, pub);
    await waitFor(() => sent.filter((r) => r.body.alertId === pub.id).length >= 4, 30_000, 'the broadcast and the operators\' messages');
    await sleep(2000);
    const forPub = sent.filter((r) => r.body.alertId === pub.id).map((r) => `${r.url} ${r.body.to ?? '(areas ' + r.body.areas + ')'}`).sort();
    expect(forPub).toEqual(['/email lan@ioc.example', '/email tuan@ioc.example', '/sms (areas kim-long)', '/sms +84912345678']);
  }, 60_000);
});
