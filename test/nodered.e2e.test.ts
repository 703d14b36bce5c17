import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import { connectClient, tempDir, waitFor } from './helpers.ts';
import { BIN, startHuewatch, type HuewatchChild } from './huewatch-child.ts';

const run = promisify(execFile);

/**
 * `NODERED=1` as an operator turns it on: `huewatch start` as a child process, whose environment
 * holds only what the operator sets (no MQTT_URL, no broker credentials: the platform must hand
 * Node-RED those itself). A registered device's crossing reading must come out of the committed
 * flows as requests to the SMS gateway and the e-mail API.
 */
describe('huewatch start with NODERED=1', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: HuewatchChild;
  // FAKE SMS/E-MAIL GATEWAY: records what the flows POST and answers 202 as a gateway would.
  const requests: Array<{ url: string; headers: IncomingHttpHeaders; body: any }> = [];
  const fakeGateway = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
    });
  });

  const env = () => {
    const e: Record<string, string | undefined> = { ...process.env, DATA_DIR: data.dir, HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', OPS_PORT: '0', LOG_LEVEL: 'warn', SIM: '0' };
    // what an operator would not set: the platform knows its broker and Node-RED's account
    for (const k of ['MQTT_URL', 'MQTT_USER', 'MQTT_PASSWORD']) delete e[k];
    return e;
  };

  beforeAll(async () => {
    data = await tempDir('huewatch-nodered-e2e-');
    await new Promise<void>((r) => fakeGateway.listen(0, '127.0.0.1', r));
    const gw = `http://127.0.0.1:${(fakeGateway.address() as AddressInfo).port}`;
    platform = await startHuewatch({
      dataDir: data.dir, waitMs: 45_000,
      env: { ...env(), NODERED: '1', SMS_GATEWAY_URL: `${gw}/sms`, EMAIL_API_URL: `${gw}/email`, EMAIL_TO: 'ioc@example.vn' },
    });
  }, 60_000);

  afterAll(async () => {
    await platform?.stop('SIGTERM', 15_000);
    await new Promise<void>((r) => fakeGateway.close(() => r()));
    await data?.cleanup();
  });

  it('sends a real alert from a registered device to the SMS gateway and the e-mail API', async () => {
    const { mqttUrl, httpUrl } = platform;
    // registered as the README says, through the running platform's API
    const { stdout } = await run(process.execPath, [BIN, 'device', 'add', 'kl-nr', '--station', 'kim-long'], { env: { ...env(), HTTP_PORT: new URL(httpUrl).port } });
    const secret = /MQTT password: (\S+)/.exec(stdout)![1]!;

    const device = await connectClient(mqttUrl, { username: 'kl-nr', password: secret, clientId: 'kl-nr' });
    try {
      // Kim Long alarm level 2 is 2.0 m (config/rules.yaml)
      await device.publishAsync(topics.telemetry('kl-nr'), JSON.stringify({ ts: Date.now() - 1000, seq: 1, m: { water_level: 2.31 } }), { qos: 1 });
    } finally {
      await device.endAsync();
    }
    await waitFor(() => requests.some((r) => r.url === '/sms') && requests.some((r) => r.url === '/email'), 30_000, `the gateway requests (output so far: ${platform.output().slice(-2000)})`);

    const sms = requests.find((r) => r.url === '/sms')!;
    expect(sms.body).toMatchObject({ areas: expect.arrayContaining(['kim-long']), msgType: 'Alert', eventSeq: 1 });
    expect(sms.body.text).toMatch(/Kim Long/);
    expect(sms.headers['idempotency-key']).toBe(`${sms.body.alertId}:1`);
    const mail = requests.find((r) => r.url === '/email')!;
    expect(mail.body).toMatchObject({ to: 'ioc@example.vn', alertId: sms.body.alertId });
    // the alert the flows sent is the one the platform holds active
    // (an alert is published before it is written: rules/README.md)
    const held = await waitFor(async () => {
      const active = (await (await fetch(`${httpUrl}/api/v1/alerts?status=active`)).json()) as { alerts: Array<{ id: string; key: string }> };
      return active.alerts.find((a) => a.id === sms.body.alertId);
    }, 10_000, 'the alert among the active ones');
    expect(held.key).toBe('flood:kim-long');
  }, 60_000);
});
