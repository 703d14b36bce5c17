import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { connectClient, startTestPlatform, tempDir } from './helpers.ts';
import { BIN, launchHuewatch, type HuewatchChild } from './huewatch-child.ts';

const run = promisify(execFile);
type Failed = { code: number; stdout: string; stderr: string };

/** A device's MQTT login as the README tells a technician to make it. */
const login = (id: string, secret: string) => ({ username: id, password: secret, clientId: id });

/** Resolves when the broker ends the session (the socket closes), with how long it took to notice. */
const closed = (c: MqttClient) => new Promise<void>((r) => c.once('close', () => r()));

/** The CONNACK refusal code the broker answers a login with, or 0 when it is let in. */
async function refusalOf(url: string, id: string, secret: string): Promise<number> {
  const c = mqtt.connect(url, { ...login(id, secret), reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    return await new Promise<number>((resolve, reject) => {
      c.once('connect', () => resolve(0));
      c.once('error', (err) => ((err as { code?: unknown }).code !== undefined ? resolve(Number((err as { code: number }).code)) : reject(err)));
    });
  } finally {
    await c.endAsync(true);
  }
}

describe('device management over the API, and revocation at the broker (#13, #16)', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  const api = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${platform.httpUrl}/api/v1${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
  }, 60_000);
  afterAll(async () => {
    await platform?.stop();
    await data?.cleanup();
  });

  it('refuses an id that exists unless asked to rotate, and refuses every change to a less privileged token', async () => {
    const first = await api('/devices', platform.adminToken, { method: 'POST', body: { deviceId: 'kl-20', station: 'kim-long' } });
    expect(first.status).toBe(201);
    const again = await api('/devices', platform.adminToken, { method: 'POST', body: { deviceId: 'kl-20', station: 'kim-long' } });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'HW_ERR_CONFLICT', message: expect.stringMatching(/kl-20.*exists/) });
    const rotated = await api('/devices', platform.adminToken, { method: 'POST', body: { deviceId: 'kl-20', station: 'kim-long', rotate: true } });
    expect(rotated.status).toBe(200);
    expect(await rotated.json()).toMatchObject({ deviceId: 'kl-20', rotated: true, secret: expect.any(String) });

    for (const token of [platform.operatorToken, platform.viewerToken]) {
      for (const [method, path, body] of [
        ['GET', '/devices', undefined], ['POST', '/devices', { deviceId: 'kl-21', station: 'kim-long' }], ['POST', '/devices/kl-20/disable', undefined],
        ['POST', '/devices/kl-20/rotate', undefined], ['DELETE', '/devices/kl-20', undefined], ['GET', '/audit', undefined],
      ] as const) {
        const res = await api(path, token, { method, body });
        expect(res.status, `${method} ${path}`).toBe(403);
      }
    }
    const list = (await (await api('/devices', platform.adminToken)).json()) as { devices: Array<{ deviceId: string; disabled: boolean }> };
    expect(list.devices).toEqual([expect.objectContaining({ deviceId: 'kl-20', station: 'kim-long', disabled: false })]);
    expect(JSON.stringify(list)).not.toMatch(/secret/i);
    expect((await api('/devices/nope/disable', platform.adminToken, { method: 'POST' })).status).toBe(404);
  });

  it('cuts a live session on disable, rotate and remove, and refuses the old secret from then on', async () => {
    const add = await api('/devices', platform.adminToken, { method: 'POST', body: { deviceId: 'kl-30', station: 'kim-long' } });
    const { secret: first } = (await add.json()) as { secret: string };
    const device = await connectClient(platform.mqttUrl, login('kl-30', first));
    await device.publishAsync(topics.telemetry('kl-30'), JSON.stringify({ ts: Date.now() - 1000, seq: 1, m: { water_level: 1.5 } }), { qos: 1 });

    // disable: the session ends at once, and the device is refused (CONNACK 5, not authorized)
    const cut = closed(device);
    expect((await api('/devices/kl-30/disable', platform.adminToken, { method: 'POST' })).status).toBe(200);
    await cut;
    expect(device.connected).toBe(false);
    expect(await refusalOf(platform.mqttUrl, 'kl-30', first)).toBe(5);

    // rotate: a new secret, which gets in; the old one is refused (CONNACK 4, bad credentials)
    const r1 = (await (await api('/devices/kl-30/rotate', platform.adminToken, { method: 'POST' })).json()) as { secret: string };
    expect(r1.secret).not.toBe(first);
    expect(await refusalOf(platform.mqttUrl, 'kl-30', first)).toBe(4);
    const second = await connectClient(platform.mqttUrl, login('kl-30', r1.secret));
    // rotating again cuts the session that logged in with the secret it replaces
    const cut2 = closed(second);
    const r2 = (await (await api('/devices/kl-30/rotate', platform.adminToken, { method: 'POST' })).json()) as { secret: string };
    await cut2;
    expect(await refusalOf(platform.mqttUrl, 'kl-30', r1.secret)).toBe(4);

    // remove: the session ends and nothing of the device gets in again
    const third = await connectClient(platform.mqttUrl, login('kl-30', r2.secret));
    const cut3 = closed(third);
    expect((await api('/devices/kl-30', platform.adminToken, { method: 'DELETE' })).status).toBe(204);
    await cut3;
    expect(await refusalOf(platform.mqttUrl, 'kl-30', r2.secret)).toBe(4);
    expect((await api('/devices/kl-30', platform.adminToken)).status).toBe(404);
  }, 60_000);

  it('audits every change with who, what and when, listed by the API', async () => {
    const body = (await (await api('/audit', platform.adminToken)).json()) as { entries: Array<{ action: string; deviceId?: string; user: string; at: string }> };
    const kl30 = body.entries.filter((e) => e.deviceId === 'kl-30');
    expect(kl30.map((e) => e.action)).toEqual(['device.register', 'device.disable', 'device.rotate', 'device.rotate', 'device.remove']);
    for (const e of kl30) {
      expect(e.user).toBe('admin');
      expect(Date.now() - Date.parse(e.at)).toBeLessThan(10 * 60_000);
    }
    expect(body.entries.filter((e) => e.deviceId === 'kl-20').map((e) => e.action)).toEqual(['device.register', 'device.rotate']);
  });
});

describe('huewatch device … on the command line (#13)', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, DATA_DIR: data.dir, HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'warn', ...extra });
  const cli = (args: string[], extra: Record<string, string> = {}) => run(process.execPath, [BIN, 'device', ...args], { env: env(extra) });
  const refused = (args: string[], extra: Record<string, string> = {}) => cli(args, extra).then(() => { throw new Error(`huewatch device ${args.join(' ')} was not refused`); }, (e: Failed) => e);

  beforeAll(async () => {
    data = await tempDir();
  });
  afterAll(async () => {
    await data.cleanup();
  });

  it('with the platform stopped: add, refuse an existing id, --rotate, list, disable, rotate, remove, each audited as the OS user', async () => {
    const added = await cli(['add', 'TTH-90123-TS', '--vessel']);
    expect(added.stdout).toMatch(/Registered TTH-90123-TS as the VMS tracker/);
    const again = await refused(['add', 'TTH-90123-TS', '--vessel']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^huewatch: device "TTH-90123-TS" exists .*--rotate\)\n$/);
    const rotated = await cli(['add', 'TTH-90123-TS', '--vessel', '--rotate']);
    expect(rotated.stdout).toMatch(/Re-registered TTH-90123-TS/);
    expect(rotated.stdout).toMatch(/MQTT password: [A-Za-z0-9_-]{20,}/);

    await cli(['add', 'kl-40', '--station', 'kim-long']);
    await cli(['disable', 'kl-40']);
    let list = (await cli(['list'])).stdout;
    expect(list).toMatch(/^kl-40\s+kim-long\s+disabled\s/m);
    expect(list).toMatch(/^TTH-90123-TS\s+vessel:TTH-90123-TS\s+enabled\s/m);
    expect((await cli(['rotate', 'kl-40'])).stdout).toMatch(/MQTT password: \S+/);
    expect((await cli(['list'])).stdout).toMatch(/^kl-40\s+kim-long\s+enabled\s/m);
    await cli(['remove', 'kl-40']);
    list = (await cli(['list'])).stdout;
    expect(list).not.toMatch(/kl-40/);
    expect(await refused(['remove', 'kl-40'])).toMatchObject({ code: 1, stderr: 'huewatch: no device "kl-40"\n' });
    expect(await refused(['frobnicate', 'kl-40'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^Usage: huewatch device/) });

    // the audit trail, read through the API of the platform started on this data
    const platform = await startTestPlatform(data.dir);
    try {
      const res = await fetch(`${platform.httpUrl}/api/v1/audit`, { headers: { authorization: `Bearer ${platform.adminToken}` } });
      const { entries } = (await res.json()) as { entries: Array<{ action: string; deviceId: string; user: string }> };
      expect(entries.map((e) => `${e.action} ${e.deviceId}`)).toEqual([
        'device.register TTH-90123-TS', 'device.rotate TTH-90123-TS', 'device.register kl-40', 'device.disable kl-40', 'device.rotate kl-40', 'device.remove kl-40',
      ]);
      expect(new Set(entries.map((e) => e.user))).toEqual(new Set([`cli:${userInfo().username}`]));
    } finally {
      await platform.stop();
    }
  }, 240_000);

  it('the README\'s "Try it" on a simulated tracker: refused, then taken over with --rotate while the platform runs; the simulator skips it, and the platform starts again', async () => {
    const fresh = await tempDir();
    const start = () => launchHuewatch({ dataDir: fresh.dir, env: { SIM: '1', SIM_INTERVAL_MS: '1000', SIM_SPEED: '600' } });
    /** the banner, or the output of a start that ended before it */
    const banner = async (p: HuewatchChild) => {
      if ((await p.ready) === 'exited') throw new Error(`huewatch start ended: ${p.output()}`);
    };
    const stop = (p: HuewatchChild) => p.stop('SIGINT', 60_000);
    try {
      const first = await start();
      let secret: string;
      try {
        await banner(first);
        const port = new URL(first.httpUrl).port;
        // through the running platform's API: the simulator's tracker is not silently replaced
        const again = await refused(['add', 'TTH-90123-TS', '--vessel'], { DATA_DIR: fresh.dir, HTTP_PORT: port });
        expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/HW_ERR_CONFLICT|exists/) });
        const taken = await cli(['add', 'TTH-90123-TS', '--vessel', '--rotate'], { DATA_DIR: fresh.dir, HTTP_PORT: port });
        secret = /MQTT password: (\S+)/.exec(taken.stdout)![1]!;
        // the simulated tracker is cut off and keeps being refused; the platform carries on
        const real = await connectClient(first.mqttUrl, login('TTH-90123-TS', secret));
        await real.endAsync();
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        expect(health.status).toBe(200);
      } finally {
        expect(await stop(first)).toBe(0);
      }
      expect(first.output()).not.toMatch(/TypeError/);

      const second = await start();
      try {
        await banner(second);
        expect(second.output()).not.toMatch(/TypeError|bad_credentials/);
        // one line names what the simulator leaves alone
        expect(second.output().split('\n').filter((l) => l.includes('TTH-90123-TS'))).toEqual([expect.stringMatching(/simulator: not running .*TTH-90123-TS/)]);
        const real = await connectClient(second.mqttUrl, login('TTH-90123-TS', secret));
        await real.endAsync();
        const kept = JSON.parse(await readFile(join(fresh.dir, 'secrets.json'), 'utf8')) as { simDevices: Record<string, string> };
        expect(kept.simDevices['sim-kim-long']).toBeDefined();
      } finally {
        expect(await stop(second)).toBe(0);
      }
    } finally {
      await fresh.cleanup();
    }
  }, 400_000);
});
