import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import { connectClient, tempDir, waitFor } from './helpers.ts';
import { BIN, launchHuewatch, type HuewatchChild } from './huewatch-child.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Operators choose (#14.4), e-mail and SMS: two operator accounts made with `huewatch user add`,
 * their preferences set through the API with their own tokens, real alerts raised by a registered
 * device's readings, and the committed Node-RED flows (`huewatch start` with NODERED=1) asking the
 * API who wants each alert and sending to exactly those people through the gateways.
 */
describe('operators get e-mail and SMS as their preferences say, through the Node-RED flows', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let hw: HuewatchChild;
  // FAKE MAIL/SMS GATEWAY: nothing can really be e-mailed or texted from here; records what the flows POST
  const requests: Array<{ url: string; headers: IncomingHttpHeaders; body: any }> = [];
  const fakeGateway = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
    });
  });
  const to = (url: string, addr: string) => requests.filter((r) => r.url === url && r.body.to === addr);
  const EMAIL = 'lan@ioc.example';
  const PHONE = '+84912345678';
  let cliEnv: Record<string, string | undefined>;

  const addOperator = async (name: string) => {
    const pw = join(data.dir, `${name}.pw`);
    await writeFile(pw, 'Song-Huong-lu-2026\n');
    const { stdout } = await run(process.execPath, [BIN, 'user', 'add', name, '--role', 'operator', '--password-file', pw], { env: cliEnv, timeout: 60_000 });
    return /bearer token for scripts: (hwu_\S+)/.exec(stdout)![1]!;
  };
  const off = { enabled: false, hazards: [], areas: [] };
  const setPreferences = async (token: string, prefs: unknown) => {
    const res = await fetch(`${hw.httpUrl}/api/v1/me/preferences`, {
      method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(prefs), signal: AbortSignal.timeout(15_000),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  const register = async (id: string, station: string) => {
    const { stdout } = await run(process.execPath, [BIN, 'device', 'add', id, '--station', station], { env: cliEnv, timeout: 60_000 });
    return /MQTT password: (\S+)/.exec(stdout)![1]!;
  };
  const publishReading = async (id: string, secret: string, m: Record<string, number>) => {
    const device = await connectClient(hw.mqttUrl, { username: id, password: secret, clientId: id });
    try {
      await device.publishAsync(topics.telemetry(id), JSON.stringify({ ts: Date.now() - 1000, seq: 1, m }), { qos: 1 });
    } finally {
      await device.endAsync();
    }
  };

  beforeAll(async () => {
    data = await tempDir('huewatch-nodered-ops-');
    await new Promise<void>((r) => fakeGateway.listen(0, '127.0.0.1', r));
    const gw = `http://127.0.0.1:${(fakeGateway.address() as AddressInfo).port}`;
    // the operator sets only the gateways: the API's address and the flows' token come from the platform
    hw = await launchHuewatch({
      dataDir: data.dir, waitMs: 90_000,
      env: { NODERED: '1', SMS_GATEWAY_URL: `${gw}/sms`, EMAIL_API_URL: `${gw}/email`, MQTT_URL: undefined, MQTT_USER: undefined, MQTT_PASSWORD: undefined, NODERED_API_TOKEN: undefined, HUEWATCH_API_URL: undefined },
    });
    expect(await hw.ready).toBe('banner');
    cliEnv = { ...process.env, DATA_DIR: data.dir, HOST: '127.0.0.1', HTTP_PORT: new URL(hw.httpUrl).port, LOG_LEVEL: 'warn' };
  }, 120_000);

  afterAll(async () => {
    await hw?.stop('SIGTERM', 15_000);
    await new Promise<void>((r) => fakeGateway.close(() => r()));
    await data?.cleanup();
  });

  it('a Kim Long flood e-mails the one who wants floods there; a rain alert texts the one who wants rain', async () => {
    const lan = await addOperator('lan');
    const minh = await addOperator('minh');
    await setPreferences(lan, { channels: { console: { enabled: true, hazards: [], areas: [] }, webpush: off, email: { enabled: true, hazards: ['flood'], areas: ['kim-long'] }, sms: off }, email: EMAIL });
    await setPreferences(minh, { channels: { console: { enabled: true, hazards: [], areas: [] }, webpush: off, email: off, sms: { enabled: true, hazards: ['rain'], areas: [] } }, phone: PHONE, email: 'minh@ioc.example' });

    // Kim Long alarm level 2 is 2.0 m (config/rules.yaml)
    await publishReading('kl-ops', await register('kl-ops', 'kim-long'), { water_level: 2.31 });
    const mail = await waitFor(() => to('/email', EMAIL)[0], 45_000, `an e-mail to ${EMAIL} (output so far: ${hw.output().slice(-2000)})`);
    expect(mail.body.subject).toMatch(/Kim Long/);
    // Vietnamese first, English beside
    expect(mail.body.text).toMatch(/^.*Kim Long[\s\S]*\n---\n[\s\S]*Kim Long/);
    expect(mail.body.text).toMatch(/[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/);
    expect(mail.headers['idempotency-key']).toBe(`${mail.body.alertId}:${mail.body.eventSeq}:lan`);
    const flood = (await (await fetch(`${hw.httpUrl}/api/v1/alerts/${encodeURIComponent(mail.body.alertId)}`, { headers: { authorization: `Bearer ${lan}` } })).json()) as { key?: string; alert?: { key: string } };
    expect(flood.alert?.key ?? flood.key).toBe('flood:kim-long');

    // a rain gauge's 60 mm within the hour: a rain alert at A Lưới
    await publishReading('rg-ops', await register('rg-ops', 'rg-a-luoi'), { rainfall: 60 });
    const sms = await waitFor(() => to('/sms', PHONE)[0], 45_000, `an SMS to ${PHONE} (output so far: ${hw.output().slice(-2000)})`);
    expect(sms.body).toMatchObject({ name: 'minh', areas: expect.arrayContaining(['rg-a-luoi']) });
    expect(sms.body.text).toMatch(/Mưa/);
    expect(sms.body.alertId).not.toBe(mail.body.alertId);

    // the channels nobody chose: give the flows time to have sent anything else they were going to
    await sleep(4000);
    expect(to('/email', EMAIL)).toHaveLength(1); // the flood once, not the rain
    expect(to('/sms', PHONE)).toHaveLength(1); // the rain once, not the flood
    expect(to('/email', 'minh@ioc.example')).toHaveLength(0); // minh has an address but wants no e-mail
    expect(requests.filter((r) => r.url === '/sms' && r.body.to !== undefined && r.body.to !== PHONE)).toHaveLength(0);
  }, 150_000);

  it('gives Node-RED a token that lists an alert\'s recipients and opens nothing else', async () => {
    const { noderedToken } = (await hw.secrets()) as { noderedToken?: string };
    expect(noderedToken).toMatch(/^\S{20,}$/); // made at start, not a default
    const call = async (path: string, method = 'GET') =>
      (await fetch(hw.httpUrl + path, { method, headers: { authorization: `Bearer ${noderedToken}` }, signal: AbortSignal.timeout(15_000) })).status;
    const id = encodeURIComponent(to('/email', EMAIL)[0]!.body.alertId);
    expect(await call(`/api/v1/alerts/${id}/recipients?channel=email`)).toBe(200);
    // not an admin's, not an operator's: accounts, devices and operator actions stay shut
    expect(await call('/api/v1/users')).toBe(401);
    expect(await call('/api/v1/devices')).toBe(401);
    expect(await call(`/api/v1/alerts/${id}/ack`, 'POST')).toBe(401);
  }, 60_000);
});
