import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/huewatch.js', import.meta.url));
const SECRETS = Object.fromEntries(['SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_NODERED_SECRET', 'ADMIN_TOKEN', 'SVC_TOKEN'].map((k) => [k, randomBytes(32).toString('base64url')]));

/** `huewatch start` as an operator runs it, with one configuration mistake (#13 defect 4). */
describe('a configuration mistake at start', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    data = await tempDir();
  });
  afterAll(async () => {
    await data.cleanup();
  });

  async function start(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    const base = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', DATA_DIR: data.dir, HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', SIM: '0' };
    return run(process.execPath, [BIN, 'start'], { env: { ...base, ...env }, timeout: 120_000 }).then(
      () => ({ code: 0, stdout: '', stderr: 'started: the mistake was not refused' }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  }
  /** exit code 2, nothing on stdout, and stderr exactly one line per problem, no stack trace */
  const refusedWith = (r: { code: number; stdout: string; stderr: string }, ...lines: RegExp[]) => {
    expect(r.stderr.endsWith('\n'), r.stderr).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toEqual(lines.map((l) => expect.stringMatching(l)));
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.code).toBe(2);
  };

  it('NODERED=1 without the gateway URLs names both keys', async () => {
    refusedWith(await start({ NODERED: '1' }), /^huewatch: SMS_GATEWAY_URL, EMAIL_API_URL are unset: required when NODERED=1/);
  });

  it('HUEWATCH_ENV=production without the VAPID keys names them', async () => {
    refusedWith(await start({ HUEWATCH_ENV: 'production', ...SECRETS }), /^huewatch: VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT are unset: required when HUEWATCH_ENV=production/);
  });

  it('HUEWATCH_ENV=production with weak secrets names each key, never its value (#16)', async () => {
    const vapid = { VAPID_PUBLIC_KEY: 'p', VAPID_PRIVATE_KEY: 'q', VAPID_SUBJECT: 'mailto:ioc@example.org' };
    const r = await start({ HUEWATCH_ENV: 'production', ...SECRETS, ...vapid, ADMIN_TOKEN: 'aaaaaaaaaaaaaaaa', SVC_RULES_SECRET: 'a'.repeat(40), SVC_TOKEN: 'abcdefghijklmnopqrstuvwxyz0123456789' });
    refusedWith(
      r,
      /^huewatch: SVC_RULES_SECRET: too weak for HUEWATCH_ENV=production: only 1 distinct characters/,
      /^huewatch: ADMIN_TOKEN: too weak for HUEWATCH_ENV=production: 16 characters, at least 32 needed/,
      /^huewatch: SVC_TOKEN: too weak for HUEWATCH_ENV=production: low entropy/,
    );
    expect(r.stderr).not.toMatch(/aaaa|abcdefgh/);
  });

  it('a bad port or store names the key, its value and what is expected', async () => {
    refusedWith(await start({ HTTP_PORT: 'eighty' }), /^huewatch: HTTP_PORT="eighty": expected number/);
    refusedWith(await start({ MQTT_PORT: '99999' }), /^huewatch: MQTT_PORT="99999": .*65535/);
    refusedWith(await start({ STORE: 'postgres' }), /^huewatch: STORE="postgres": .*"embedded"\|"influx"/);
  });

  it('a broken or missing rule file names file:line:col', async () => {
    const bad = join(data.dir, 'rules.yaml');
    await writeFile(bad, 'rules:\n  - id: x\n    when: [\n');
    refusedWith(await start({ RULES_FILE: bad }), new RegExp(`^huewatch: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+ YAML `));
    refusedWith(await start({ RULES_FILE: join(data.dir, 'nowhere.yaml') }), /^huewatch: .*nowhere\.yaml:1:1 cannot read: ENOENT/);
  });

  it('a wrong or missing station catalogue names file:line:col and the key in it', async () => {
    const bad = join(data.dir, 'stations.json');
    await writeFile(bad, JSON.stringify({ river_stations: [{ id: 'kim-long', name: 'Kim Long', lat: '16.46', lon: 107.56, river: 'Hương', commune: 'Kim Long', alarm_levels_m: { 1: 1 } }], rain_gauges: [], air_quality_stations: [], reservoirs: [] }, null, 2));
    refusedWith(await start({ STATIONS_FILE: bad }), /^huewatch: .*stations\.json:\d+:\d+ river_stations\[0\]\.lat: expected number, received string$/);
    refusedWith(await start({ STATIONS_FILE: join(data.dir, 'none.json') }), /^huewatch: .*none\.json:1:1 cannot read: ENOENT/);
  });
});
