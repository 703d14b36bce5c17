import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import { freePort } from '../store/test-servers.ts';
import { connectClient, tempDir } from './helpers.ts';
import { BIN, startHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * Revocation (#16.5) with the broker in a process of its own, as in the compose stack: the broker
 * (SERVICES=broker) looks devices up over HTTP and hears of a change only through
 * `devices/{id}/changed`, published by the other process (SERVICES=ingest,rules,api), which owns
 * the state database. Disabling, rotating and removing a device through the API and through
 * `huewatch device …` must each end its live session at once and refuse its next CONNECT, and
 * each is in the audit trail.
 */
const run = promisify(execFile);
const secret = () => randomBytes(24).toString('base64url');
const SECRETS = {
  SVC_INGEST_SECRET: secret(), SVC_RULES_SECRET: secret(), SVC_API_SECRET: secret(), SVC_NODERED_SECRET: secret(),
  SVC_TOKEN: secret(), ADMIN_TOKEN: secret(), OPERATOR_TOKEN: secret(), VIEWER_TOKEN: secret(),
};
/** "at once": the close is awaited this long at most (a session never cut would wait for ever) */
const CUT_BOUND_MS = 15_000;

const login = (id: string, s: string) => ({ username: id, password: s, clientId: id });

/** the CONNACK refusal code a login gets, or 0 when it is let in */
async function refusalOf(url: string, id: string, s: string): Promise<number> {
  const c = mqtt.connect(url, { ...login(id, s), reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    return await new Promise<number>((resolve, reject) => {
      c.once('connect', () => resolve(0));
      c.once('error', (err) => ((err as { code?: unknown }).code !== undefined ? resolve(Number((err as { code: number }).code)) : reject(err)));
    });
  } finally {
    await c.endAsync(true);
  }
}

/** resolves true when the broker ends the session within CUT_BOUND_MS */
function cutWithin(c: MqttClient): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), CUT_BOUND_MS);
    c.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('revocation with the broker in its own process (#16.5)', () => {
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = [];
  let broker: HuewatchChild;
  let platform: HuewatchChild;
  let apiPort: number;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as any) };
  };
  /** `huewatch device …` beside the running platform: it goes through the platform's API */
  const cli = async (...args: string[]) => {
    const env = { ...process.env, ...SECRETS, DATA_DIR: platform.dataDir, SERVICES: 'ingest,rules,api', HTTP_PORT: String(apiPort), MQTT_URL: broker.mqttUrl, LOG_LEVEL: 'warn' };
    return (await run(process.execPath, [BIN, 'device', ...args], { env, timeout: 60_000 })).stdout;
  };
  const secretIn = (stdout: string) => /MQTT password: (\S+)/.exec(stdout)![1]!;
  const online = async (id: string, s: string) => {
    const c = await connectClient(broker.mqttUrl, login(id, s));
    await c.publishAsync(topics.telemetry(id), JSON.stringify({ ts: Date.now() - 1_000, seq: 1, m: { water_level: 1.1 } }), { qos: 1 });
    return c;
  };

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) dirs.push(await tempDir('huewatch-revoke-'));
    apiPort = await freePort();
    // the broker first: it looks devices up at the API, lazily, on each CONNECT
    broker = await startHuewatch({ args: ['--no-sim'], dataDir: dirs[0]!.dir, waitMs: 60_000, env: { SIM: undefined, ...SECRETS, SERVICES: 'broker', STATE_URL: `http://127.0.0.1:${apiPort}` } });
    platform = await startHuewatch({ args: ['--no-sim'], dataDir: dirs[1]!.dir, waitMs: 90_000, env: { SIM: undefined, ...SECRETS, SERVICES: 'ingest,rules,api', MQTT_URL: broker.mqttUrl, HTTP_PORT: String(apiPort) } });
  }, 180_000);
  afterAll(async () => {
    await Promise.all([platform, broker].map((p) => p?.stop('SIGTERM')));
    await Promise.all(dirs.map((d) => d.cleanup()));
  });

  it('through the API: disable, rotate and delete each cut the live session at once and refuse the next CONNECT', async () => {
    const added = await api('POST', '/devices', { deviceId: 'kl-51', station: 'kim-long' });
    expect(added.status).toBe(201);
    const s1 = added.body.secret as string;

    const d1 = await online('kl-51', s1);
    const cut1 = cutWithin(d1);
    expect((await api('POST', '/devices/kl-51/disable')).status).toBe(200);
    expect(await cut1).toBe(true);
    expect(await refusalOf(broker.mqttUrl, 'kl-51', s1)).toBe(5); // disabled: not authorized

    const s2 = (await api('POST', '/devices/kl-51/rotate')).body.secret as string;
    expect(await refusalOf(broker.mqttUrl, 'kl-51', s1)).toBe(4);
    const d2 = await online('kl-51', s2);
    const cut2 = cutWithin(d2);
    const s3 = (await api('POST', '/devices/kl-51/rotate')).body.secret as string;
    expect(await cut2).toBe(true);
    expect(await refusalOf(broker.mqttUrl, 'kl-51', s2)).toBe(4);

    const d3 = await online('kl-51', s3);
    const cut3 = cutWithin(d3);
    expect((await api('DELETE', '/devices/kl-51')).status).toBe(204);
    expect(await cut3).toBe(true);
    expect(await refusalOf(broker.mqttUrl, 'kl-51', s3)).toBe(4);
  }, 120_000);

  it('through `huewatch device`: disable, rotate and remove each cut the live session at once and refuse the next CONNECT', async () => {
    const s1 = secretIn(await cli('add', 'kl-52', '--station', 'kim-long'));
    const d1 = await online('kl-52', s1);
    const cut1 = cutWithin(d1);
    expect(await cli('disable', 'kl-52')).toMatch(/^Disabled kl-52/);
    expect(await cut1).toBe(true);
    expect(await refusalOf(broker.mqttUrl, 'kl-52', s1)).toBe(5);

    const s2 = secretIn(await cli('rotate', 'kl-52')); // a new secret enables it again
    expect(await refusalOf(broker.mqttUrl, 'kl-52', s1)).toBe(4);
    const d2 = await online('kl-52', s2);
    const cut2 = cutWithin(d2);
    const s3 = secretIn(await cli('rotate', 'kl-52'));
    expect(await cut2).toBe(true);
    expect(await refusalOf(broker.mqttUrl, 'kl-52', s2)).toBe(4);

    const d3 = await online('kl-52', s3);
    const cut3 = cutWithin(d3);
    expect(await cli('remove', 'kl-52')).toMatch(/^Removed kl-52/);
    expect(await cut3).toBe(true);
    expect(await refusalOf(broker.mqttUrl, 'kl-52', s3)).toBe(4);
  }, 120_000);

  it('audits every change, through either path, with who and when', async () => {
    const { status, body } = await api('GET', '/audit');
    expect(status).toBe(200);
    const entries = body.entries as Array<{ action: string; deviceId?: string; user: string; at: string }>;
    for (const id of ['kl-51', 'kl-52']) {
      const mine = entries.filter((e) => e.deviceId === id);
      expect(mine.map((e) => e.action), id).toEqual(['device.register', 'device.disable', 'device.rotate', 'device.rotate', 'device.remove']);
      for (const e of mine) {
        expect(e.user, id).toMatch(/\S/);
        expect(Date.now() - Date.parse(e.at), id).toBeLessThan(10 * 60_000);
      }
    }
  });
});
