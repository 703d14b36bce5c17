import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../platform/main.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

const ARTIFACTS = new URL('../.test-artifacts/console/', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium'; // Debian's chromium (apt-get install chromium); FACTS.md

/** The console's alert quality panel in a real browser, after a sensor crossed Kim Long's alarm levels. */
describe('the alert quality panel of the console', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let browser: BrowserContext;
  let page: Page;
  let device: MqttClient;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'kl-qc', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-qc', password: secret, clientId: 'kl-qc' });
    browser = await chromium.launchPersistentContext(join(data.dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1360, height: 1100 },
      timeout: 20_000,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await device?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('asks for a login, then shows per rule the crossings the readings made and that each was alerted', async () => {
    let seq = 0;
    for (const level of [0.6, 1.3, 2.4]) {
      await device.publishAsync('huewatch/v1/telemetry/kl-qc', JSON.stringify({ ts: Date.now(), seq: seq++, m: { water_level: level } }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(async () => {
      const body = (await (await fetch(platform.httpUrl + '/api/v1/alerts')).json()) as { alerts: Array<{ key: string; level: number }> };
      return body.alerts.some((a) => a.key === 'flood:kim-long' && a.level === 2);
    }, 10_000, 'the Kim Long alert at level 2');

    await page.goto(platform.httpUrl + '/');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.textContent('#quality-note')).toContain('Đăng nhập');
    expect(await page.$$('#quality tr')).toHaveLength(0);

    await page.fill('#token', platform.viewerToken);
    await page.click('#login-btn');
    const row = await page.waitForSelector('#quality tr[data-rule="flood-kim-long"]');
    const cells = await row.$$eval('td[data-col]', (tds) => Object.fromEntries(tds.map((td) => [td.getAttribute('data-col'), td.textContent])));
    expect(cells).toMatchObject({ crossings: '2', alerted: '2', late: '0', missed: '0', falseAlerts: '0', flaps: '0' });
    expect(cells.lead).toMatch(/^\d+(\.\d h| min)$/);
    expect(await row.getAttribute('class')).toBe('quality');
    expect(await page.getAttribute('#quality-note', 'data-missed')).toBe('0');
    await page.locator('#quality-panel').screenshot({ path: join(ARTIFACTS, 'alert-quality.png') });
  });
});
