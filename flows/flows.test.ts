import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import type { Platform } from '../platform/main.ts';
import { publishEvent } from '../rules/alerts.ts';
import { kimLongAlert, kimLongUpdate } from '../test/alert-fixtures.ts';
import { connectClient, startTestPlatform, tempDir, waitFor } from '../test/helpers.ts';
import { FLOWS_DIR, startNodeRed, type NodeRedHandle } from './run.ts';

const NODERED_SECRET = 'nodered-secret-0123456789';
const RULES_SECRET = 'rules-secret-0123456789abc';

/**
 * The committed flows in a real Node-RED 4 runtime, logged in to the platform's real broker as
 * svc-nodered; an alert published as the rules service publishes it must come out as HTTP
 * requests to the SMS gateway and the e-mail API.
 */
describe('the Node-RED alert fan-out flows', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let nodered: NodeRedHandle;
  let rules: MqttClient;
  let settings: Record<string, string>;
  const envBefore = { ...process.env };
  const requests: Array<{ url: string; headers: IncomingHttpHeaders; body: any }> = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
    });
  });
  const T0 = Date.now() - 60_000;
  const before = kimLongAlert(T0, { id: 'a-earlier', key: 'flood:phu-oc', area: { ...kimLongAlert().area, codes: ['phu-oc'] } });
  const expired = kimLongAlert(Date.now() - 7 * 3600_000, { id: 'a-expired', key: 'flood:a-luoi', area: { ...kimLongAlert().area, codes: ['a-luoi'] } }); // expired an hour ago
  const alert = kimLongAlert(T0 + 1000);

  beforeAll(async () => {
    data = await tempDir('huewatch-nodered-');
    platform = await startTestPlatform(data.dir, { SVC_NODERED_SECRET: NODERED_SECRET, SVC_RULES_SECRET: RULES_SECRET });
    rules = await connectClient(platform.mqttUrl, { username: 'svc-rules', password: RULES_SECRET, clientId: 'svc-rules-test' });
    // alerts retained before Node-RED first starts: one in force, one whose time has passed
    await publishEvent(rules, before);
    await publishEvent(rules, expired);
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    settings = {
      MQTT_URL: platform.mqttUrl,
      MQTT_USER: 'svc-nodered',
      MQTT_PASSWORD: NODERED_SECRET,
      SMS_GATEWAY_URL: `${base}/sms`,
      SMS_GATEWAY_TOKEN: 'sms-token-123',
      EMAIL_API_URL: `${base}/email`,
      EMAIL_API_TOKEN: 'mail-token-456',
      EMAIL_TO: 'ioc@example.vn',
    };
    nodered = await startNodeRed({ userDir: join(data.dir, 'nodered'), log: silentLogger(), settings });
  }, 60_000);

  afterAll(async () => {
    await nodered?.stop();
    await rules?.endAsync();
    await platform?.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
    await data?.cleanup();
  });

  it('keeps hosts and credentials out of the committed files', () => {
    const flows = readFileSync(join(FLOWS_DIR, 'flows.json'), 'utf8');
    expect(flows).toBe(JSON.stringify(JSON.parse(flows), null, 4) + '\n'); // pretty-printed for review
    const nodes = JSON.parse(flows) as Array<Record<string, unknown>>;
    expect(nodes.find((n) => n.type === 'mqtt-broker')).toMatchObject({ broker: '${MQTT_URL}', clientid: 'svc-nodered', protocolVersion: '4' });
    // the recipients request's URL is built from ${HUEWATCH_API_URL} in the node before it (msg.url)
    expect(nodes.filter((n) => n.type === 'http request').map((n) => n.url)).toEqual(['${SMS_GATEWAY_URL}', '${EMAIL_API_URL}', '']);
    expect(nodes.find((n) => n.name === 'ask who wants it by e-mail, by SMS')?.func).toContain("env.get('HUEWATCH_API_URL')");
    const creds = JSON.parse(readFileSync(join(FLOWS_DIR, 'flows_cred.json'), 'utf8')) as Record<string, Record<string, string>>;
    for (const c of Object.values(creds)) for (const v of Object.values(c)) expect(v === '' || /^\$\{[A-Z_]+\}$/.test(v)).toBe(true);
  });

  it('takes its settings as an object: the process environment stays as it was and no secret is written to its folder', async () => {
    for (const k of Object.keys(settings)) expect(process.env[k], k).toBe(envBefore[k]);
    const files = (await readdir(join(data.dir, 'nodered'), { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
    expect(files.map((f) => f.name)).toContain('flows.json');
    for (const f of files) expect(readFileSync(join(f.parentPath, f.name), 'utf8')).not.toContain(NODERED_SECRET);
  });

  const sentKeys = (from = 0) => requests.slice(from).map((r) => `${r.url} ${r.body.alertId}:${r.body.eventSeq}`).sort();

  it('sends the alert in force when it first starts, once, and not the expired one', async () => {
    await waitFor(async () => {
      // the mqtt-in node is connected once the broker counts svc-nodered among its clients
      const node = nodered.getNode('a1b2c3d4e5f60718') as { connected?: boolean } | null;
      return node?.connected === true;
    }, 15_000, 'Node-RED connected to the broker');
    await waitFor(() => requests.length >= 2, 5000, 'the alert in force sent');
    await new Promise((r) => setTimeout(r, 300)); // SUBACK after CONNACK; a second copy would be here by now
    expect(sentKeys()).toEqual(['/email a-earlier:1', '/sms a-earlier:1']);
  });

  it('turns a live alert into one SMS gateway request and one e-mail API request', async () => {
    const from = requests.length;
    await publishEvent(rules, alert);
    await waitFor(() => requests.length >= from + 2, 5000, 'the SMS and e-mail requests');
    await publishEvent(rules, kimLongUpdate(alert, T0 + 2000));
    await waitFor(() => requests.length >= from + 4, 5000, 'the Update requests');
    await new Promise((r) => setTimeout(r, 300));

    const sms = requests.slice(from).filter((r) => r.url === '/sms');
    const mail = requests.slice(from).filter((r) => r.url === '/email');
    expect(sms.map((r) => r.body.eventSeq)).toEqual([1, 2]);
    expect(sms[0]).toMatchObject({
      headers: { authorization: 'Bearer sms-token-123', 'content-type': 'application/json', 'idempotency-key': `${alert.id}:1` },
      body: { areas: ['kim-long'], alertId: alert.id, msgType: 'Alert', severity: 'Moderate', text: `${alert.headline.vi}. ${alert.instruction.vi}` },
    });
    expect(mail[0]).toMatchObject({
      headers: { authorization: 'Bearer mail-token-456' },
      body: { to: 'ioc@example.vn', subject: `[HueWatch] ${alert.headline.vi}`, alertId: alert.id, eventSeq: 1 },
    });
    expect(mail[0]!.body.text).toContain(alert.description.en);
    expect(requests).toHaveLength(from + 4);
  });

  it('after a restart sends what it missed while down, once, and nothing it had sent', async () => {
    const from = requests.length;
    await nodered.stop();
    // its persistent session keeps the subscription: the broker queues what Node-RED misses
    const missed = kimLongAlert(Date.now(), { id: 'a-while-away', key: 'flood:phu-oc', eventSeq: 2, msgType: 'Update', area: { ...kimLongAlert().area, codes: ['phu-oc'] } });
    await publishEvent(rules, missed);
    nodered = await startNodeRed({ userDir: join(data.dir, 'nodered'), log: silentLogger(), settings });
    await waitFor(() => requests.length >= from + 2, 15_000, 'the missed alert sent');
    await new Promise((r) => setTimeout(r, 500)); // the retained copies of what it had sent arrive too, and are dropped
    expect(sentKeys(from)).toEqual(['/email a-while-away:2', '/sms a-while-away:2']);
  });
});
