import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import { connectClient, startTestPlatform, tempDir, waitFor } from './helpers.ts';
import { BIN, startHuewatch } from './huewatch-child.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';

const run = promisify(execFile);

/** The `huewatch` command as a technician uses it: a real child process, real ports, real signals. */
describe('the huewatch command', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  const env = () => ({ ...process.env, DATA_DIR: data.dir, HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    data = await tempDir();
  });
  afterAll(async () => {
    await data.cleanup();
  });

  it('registers a device and prints its secret once', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'device', 'add', 'kl-07', '--station', 'kim-long'], { env: env() });
    expect(stdout).toMatch(/MQTT username: kl-07/);
    expect(stdout).toMatch(/MQTT password: [A-Za-z0-9_-]{20,}/);
  });

  it('refuses a device for a station that does not exist, naming the station', async () => {
    const err = await run(process.execPath, [BIN, 'device', 'add', 'x-1', '--station', 'nowhere'], { env: env() }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1, stderr: expect.stringMatching(/no station "nowhere"/) });
  });

  it('refuses to start with a bad setting and names the key (more in config-errors.e2e.test.ts)', async () => {
    const err = await run(process.execPath, [BIN, 'start'], { env: { ...env(), HTTP_PORT: 'eighty' } }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2, stderr: expect.stringMatching(/^huewatch: HTTP_PORT="eighty": [^\n]*\n$/) });
  });

  it('starts the whole platform with simulated stations, takes a real device, and stops cleanly on Ctrl-C', async () => {
    const secret = /MQTT password: (\S+)/.exec((await run(process.execPath, [BIN, 'device', 'add', 'kl-08', '--station', 'kim-long'], { env: env() })).stdout)![1]!;
    const platform = await startHuewatch({ dataDir: data.dir, env: { SIM: '1', SIM_INTERVAL_MS: '1000', SIM_SPEED: '600' } });
    try {
      const { mqttUrl, httpUrl } = platform;
      expect(platform.output()).toMatch(/MQTT\/WS\s+ws:\/\/127\.0\.0\.1:\d+\/mqtt/);

      // The simulated rain gauge at Nam Đông reports over MQTT on its own.
      await waitFor(async () => {
        const body = (await (await fetch(`${httpUrl}/api/v1/stations/rg-nam-dong`)).json()) as { latest: Record<string, { device: string }> };
        return body.latest.rainfall?.device === 'sim-rg-nam-dong';
      }, 10_000, 'a simulated reading');

      // A device registered while the platform runs goes through the API (the database is in use).
      const { stdout: added } = await run(process.execPath, [BIN, 'device', 'add', 'kl-09', '--station', 'kim-long'], { env: { ...env(), HTTP_PORT: new URL(httpUrl).port } });
      expect(added).toMatch(/MQTT password: \S+/);

      const device = await connectClient(mqttUrl, { username: 'kl-08', password: secret, clientId: 'kl-08' });
      await device.publishAsync(topics.telemetry('kl-08'), JSON.stringify({ ts: Date.now() - 1000, seq: 1, m: { water_level: 0.42 } }), { qos: 1 });
      await device.endAsync();
      await waitFor(async () => {
        const body = (await (await fetch(`${httpUrl}/api/v1/stations/kim-long/series?metric=water_level&from=${Date.now() - 60_000}`)).json()) as { points: Array<{ value: number }> };
        return body.points.some((p) => p.value === 0.42);
      }, 2000, 'the device reading');
    } finally {
      expect(await platform.stop('SIGINT', 60_000)).toBe(0);
    }
  }, 180_000);

  it('runs the simulated stations and fishing fleet against a platform elsewhere, registering them through its API', async () => {
    const platformData = await tempDir();
    const platform = await startTestPlatform(platformData.dir);
    const simData = await tempDir();
    // `Simulating … Ctrl-C stops it.` is the one line sim prints when it has started
    const sim = await startHuewatch({
      command: 'sim', args: ['--url', platform.mqttUrl, '--api', platform.httpUrl!, '--interval', '200', '--speed', '600'],
      dataDir: simData.dir, env: { ADMIN_TOKEN: platform.adminToken, SIM: undefined, HOST: undefined, MQTT_PORT: undefined, MQTT_WS_PORT: undefined, HTTP_PORT: undefined, OPS_PORT: undefined },
    });
    const output = sim.output();
    try {
      expect(output).toContain('Simulating');
      // a platform elsewhere has no simulated dam PLCs: every station of the catalogue reports over MQTT
      expect(output).toMatch(new RegExp(`Simulating ${loadStations(DEFAULT_STATIONS_FILE).length} devices and \\d+ vessels`));
      await waitFor(async () => {
        const body = (await (await fetch(`${platform.httpUrl}/api/v1/stations/rg-nam-dong`)).json()) as { latest: Record<string, { device: string }> };
        return body.latest.rainfall?.device === 'sim-rg-nam-dong';
      }, 10_000, 'a simulated reading');
      // the fleet reports over AIS (the shore receiver) and VMS (the trackers): every vessel on the live map
      const sailing = Number(/and (\d+) vessels/.exec(output)![1]);
      expect(sailing).toBeGreaterThan(0);
      await waitFor(async () => {
        const res = await fetch(`${platform.httpUrl}/api/v1/vessels`, { headers: { authorization: `Bearer ${platform.viewerToken}` } });
        return ((await res.json()) as { count: number }).count === sailing;
      }, 15_000, 'every simulated vessel on the map');
    } finally {
      expect(await sim.stop('SIGINT', 60_000)).toBe(0);
      await platform.stop();
      await Promise.all([platformData.cleanup(), simData.cleanup()]);
    }
  }, 180_000);
});
