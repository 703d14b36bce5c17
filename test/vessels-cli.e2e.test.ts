import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/huewatch.js', import.meta.url));

/** `huewatch device add` for the devices of the sea: a VMS tracker and an AIS receiver. */
describe('huewatch device add --vessel / --receiver', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  const env = () => ({ ...process.env, DATA_DIR: data.dir, HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'warn' });
  const fail = (e: { code: number; stderr: string }) => e;

  beforeAll(async () => {
    data = await tempDir();
  });
  afterAll(async () => {
    await data.cleanup();
  });

  it('registers a VMS tracker under its vessel registration number, and an AIS receiver', async () => {
    const vms = await run(process.execPath, [BIN, 'device', 'add', 'TTH-90456-TS', '--vessel'], { env: env() });
    expect(vms.stdout).toMatch(/VMS tracker of vessel TTH-90456-TS/);
    expect(vms.stdout).toMatch(/publish to: +huewatch\/v1\/vms\/TTH-90456-TS/);
    expect(vms.stdout).toMatch(/MQTT password: [A-Za-z0-9_-]{20,}/);
    const rx = await run(process.execPath, [BIN, 'device', 'add', 'ais-rx-tu-hien', '--receiver'], { env: env() });
    expect(rx.stdout).toMatch(/as an AIS receiver/);
    expect(rx.stdout).toMatch(/publish to: +huewatch\/v1\/ais\/ais-rx-tu-hien/);
  }, 30_000);

  it('refuses a vessel not in the register, and more than one kind at once', async () => {
    expect(await run(process.execPath, [BIN, 'device', 'add', 'TTH-00000-TS', '--vessel'], { env: env() }).catch(fail)).toMatchObject({ code: 1, stderr: expect.stringMatching(/no vessel "TTH-00000-TS"/) });
    expect(await run(process.execPath, [BIN, 'device', 'add', 'x-1', '--receiver', '--station', 'kim-long'], { env: env() }).catch(fail)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--vessel \| --receiver/) });
  }, 30_000);
});
