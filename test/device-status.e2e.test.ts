import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

const ARTIFACTS = new URL('../.test-artifacts/device-status/', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium'; // Debian's chromium (FACTS.md)
const DEVICE = 'kl-07';

interface Status { deviceId: string; online: boolean | null; changedAt: string | null; seenAt: string | null; fw?: string }

/** A device's online/offline state, from its retained status and last will, in the API and the console. */
describe('device status', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let browser: BrowserContext;
  let page: Page;
  let device: MqttClient | undefined;
  let secret: string;

  const statusOf = async (token: string | null = platform.viewerToken) => {
    const res = await fetch(platform.httpUrl + '/api/v1/devices/status', token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: res.status, body: (await res.json()) as { devices?: Status[]; code?: string } };
  };
  const deviceStatus = async () => (await statusOf()).body.devices?.find((d) => d.deviceId === DEVICE);

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    secret = await registerDevice(platform, DEVICE, 'kim-long');
    browser = await chromium.launchPersistentContext(join(data.dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1360, height: 1000 },
      timeout: 20_000,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await device?.endAsync(true).catch(() => undefined);
    await platform?.stop();
    await data?.cleanup();
  });

  it('refuses the device inventory to an anonymous caller', async () => {
    expect(await statusOf(null)).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await statusOf('not-a-token')).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
  });

  it('lists a registered device that never connected as not seen, to a viewer in the console', async () => {
    expect(await deviceStatus()).toEqual({ deviceId: DEVICE, online: null, changedAt: null, seenAt: null });
    await page.goto(platform.httpUrl + '/');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.textContent('#devices-note')).toContain('Đăng nhập');
    await page.fill('#token', platform.viewerToken);
    await page.click('#login-btn');
    await page.waitForSelector(`#devices li[data-device="${DEVICE}"][data-online="unknown"]`);
  });

  it('shows the device online, with the time, once it connects with a last will and says so', async () => {
    const before = Date.now();
    device = await connectClient(platform.mqttUrl, {
      username: DEVICE, password: secret, clientId: DEVICE,
      will: { topic: topics.status(DEVICE), payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    await device.publishAsync(topics.status(DEVICE), JSON.stringify({ online: true, ts: Date.now(), fw: '2.4.1', battery_v: 12.6 }), { qos: 1, retain: true });
    const online = await waitFor(async () => { const s = await deviceStatus(); return s?.online === true ? s : undefined; }, 5000, 'online in the API');
    expect(online).toMatchObject({ online: true, fw: '2.4.1' });
    expect(Date.parse(online.changedAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(online.changedAt!)).toBeLessThanOrEqual(Date.now());

    const row = `#devices li[data-device="${DEVICE}"][data-online="online"]`;
    await page.waitForSelector(row);
    expect(await page.getAttribute(row, 'data-changed-at')).toBe(online.changedAt);
    expect(await page.textContent(row)).toMatch(/trực tuyến · online từ \d/);
    await page.screenshot({ path: join(ARTIFACTS, '1-online.png'), fullPage: true });
  });

  it('shows it offline, with the time of the change, when its connection dies and the broker sends its will', async () => {
    const online = (await deviceStatus())!;
    const cut = Date.now();
    device!.stream.destroy(); // no DISCONNECT: the broker publishes the will [MQTT-3.1.2-8]
    const offline = await waitFor(async () => { const s = await deviceStatus(); return s?.online === false ? s : undefined; }, 10_000, 'offline in the API');
    expect(Date.parse(offline.changedAt!)).toBeGreaterThanOrEqual(cut - 5);
    expect(offline.changedAt).not.toBe(online.changedAt);
    expect(offline.fw).toBe('2.4.1'); // the will says nothing of the firmware: what the device said stays

    const row = `#devices li[data-device="${DEVICE}"][data-online="offline"]`;
    await page.waitForSelector(row);
    expect(await page.getAttribute(row, 'data-changed-at')).toBe(offline.changedAt);
    expect(await page.textContent(row)).toContain('mất kết nối · offline');
    await page.screenshot({ path: join(ARTIFACTS, '2-offline.png'), fullPage: true });
  });

  it('keeps the state and the time of the last change across a restart', async () => {
    const before = (await deviceStatus())!;
    await browser.close();
    await platform.stop();
    platform = await startTestPlatform(data.dir);
    expect(await deviceStatus()).toEqual(before);
  });
});
