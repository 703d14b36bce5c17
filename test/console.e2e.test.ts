import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

const ARTIFACTS = new URL('../.test-artifacts/console/', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
/** runs in the page: the fill as drawn (tsconfig has no DOM lib, hence the cast) */
const fillOf = (e: unknown) => (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } }).getComputedStyle(e).fill; // Debian's chromium (apt-get install chromium); FACTS.md

/** The console in a real browser, served by the platform itself at `/`. */
describe('the web console in a browser', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let url: string;
  let browser: BrowserContext;
  let page: Page;
  let device: MqttClient;
  let seq = 0;

  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(platform.httpUrl + path, init);
    return { status: res.status, body: (await res.json()) as any };
  };
  const shot = (name: string, p: Page = page) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    url = platform.httpUrl!;
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
    browser = await chromium.launchPersistentContext(join(data.dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1360, height: 900 },
      timeout: 20_000,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(5000);
  });

  afterAll(async () => {
    await browser?.close();
    await device?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('draws every station of the catalogue on the province map', async () => {
    await page.goto(url + '/');
    await page.waitForSelector('body[data-ready="true"]');
    const { body } = await api('/api/v1/stations');
    const shown = await page.$$eval('#map [data-station]', (els) => els.map((e) => e.getAttribute('data-station')));
    expect(shown.sort()).toEqual(body.stations.map((s: { id: string }) => s.id).sort());
    // no reading has arrived yet: every station is offline, and the coast and zones are drawn
    expect(await page.$$eval('#map [data-station]', (els) => els.every((e) => e.getAttribute('data-state') === 'offline'))).toBe(true);
    expect(await page.$eval('[data-station="kim-long"] circle', fillOf)).toBe('rgb(142, 142, 142)');
    expect(await page.locator('path.coastline').count()).toBe(1);
    expect(await page.locator('path.zone').count()).toBeGreaterThanOrEqual(3);
    await shot('1-map');
  });

  it('turns Kim Long to alarm level 1 and lists the alert within a second of a 1.2 m reading over MQTT', async () => {
    const sent = Date.now();
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: sent, seq: ++seq, m: { water_level: 1.2 } }), { qos: 1 });
    await page.waitForSelector('[data-station="kim-long"][data-state="level-1"]', { timeout: 1000 });
    await page.waitForSelector('#alerts li[data-key="flood:kim-long"][data-status="active"]', { timeout: 1000 });
    expect(Date.now() - sent).toBeLessThan(1000);
    // the colour as drawn (computed style), not just the attribute: a stylesheet could override it
    const fill = await page.$eval('[data-station="kim-long"] circle', fillOf);
    expect(fill).toBe('rgb(242, 204, 12)');
    expect(await page.textContent('#alert-count')).toBe('1');
    await page.waitForSelector('#chart svg[data-points="1"] .alarm-level[data-level="1"]', { state: 'attached' });
    await shot('2-alarm-level-1');
  });

  it('refuses an acknowledgement from a viewer and shows the refusal', async () => {
    await page.fill('#token', platform.viewerToken);
    await page.click('#login-btn');
    await page.click('#alerts li[data-key="flood:kim-long"] button.ack');
    await page.waitForSelector('#ack-result[data-outcome="refused"]');
    const status = Number(await page.getAttribute('#ack-result', 'data-status'));
    expect(status).toBe(403);
    expect(await page.textContent('#ack-result')).toContain(`(${status})`);
    const { body } = await api('/api/v1/alerts?status=active');
    expect(body.alerts.map((a: { key: string }) => a.key)).toContain('flood:kim-long');
    await shot('3-viewer-refused');
  });

  it('acknowledges for an operator, and the alert shows who acknowledged it', async () => {
    await page.click('#logout-btn');
    await page.fill('#token', platform.operatorToken);
    await page.click('#login-btn');
    await page.click('#alerts li[data-key="flood:kim-long"] button.ack');
    await page.waitForSelector('#ack-result[data-outcome="ok"]');
    await page.waitForSelector('#alerts li[data-key="flood:kim-long"][data-status="acknowledged"]', { timeout: 1000 });
    const { body: listed } = await api('/api/v1/alerts?status=acknowledged');
    const alert = listed.alerts.find((a: { key: string }) => a.key === 'flood:kim-long');
    expect(alert).toMatchObject({ status: 'acknowledged', operator: { user: 'operator' } });
    await shot('4-operator-ack');
  });

  it('shows the residents of Kim Long the alert in Vietnamese', async () => {
    const resident = await browser.newPage();
    await resident.goto(url + '/resident.html?area=kim-long');
    await resident.waitForSelector('body[data-ready="true"]');
    const { body } = await api('/api/v1/alerts?status=active,acknowledged');
    const alert = body.alerts.find((a: { key: string }) => a.key === 'flood:kim-long');
    await resident.waitForSelector(`li[data-alert-id="${alert.id}"]`);
    expect(await resident.textContent(`li[data-alert-id="${alert.id}"] h2`)).toBe(alert.headline.vi);
    expect(await resident.textContent(`li[data-alert-id="${alert.id}"]`)).toContain(alert.instruction.vi);
    expect(await resident.textContent('#summary')).toContain('cảnh báo đang có hiệu lực');
    expect(await resident.getAttribute('html', 'lang')).toBe('vi');
    await shot('5-resident', resident);
    // another area has none
    await resident.goto(url + '/resident.html?area=phu-oc');
    await resident.waitForSelector('body[data-ready="true"]');
    expect(await resident.textContent('#summary')).toContain('Hiện không có cảnh báo nào');
    await resident.close();
  });

  it("names each alert's level in its own hazard's words, Vietnamese first, from the alert itself: no 'BĐ' on rain or a sensor fault", async () => {
    const secret = await registerDevice(platform, 'rg-hue-01', 'rg-hue');
    const gauge = await connectClient(platform.mqttUrl, { username: 'rg-hue-01', password: secret, clientId: 'rg-hue-01' });
    try {
      // 30 mm: 12 h "mưa to" (≥ 26 mm), the worst of the rain windows
      await gauge.publishAsync(topics.telemetry('rg-hue-01'), JSON.stringify({ ts: Date.now(), seq: 1, m: { rainfall: 30 } }), { qos: 1 });
    } finally {
      await gauge.endAsync();
    }
    // 150 m at Kim Long is outside the gauge's physical range: a sensor fault, never a flood
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: Date.now(), seq: ++seq, m: { water_level: 150 } }), { qos: 1 });
    const label = (key: string) => page.textContent(`#alerts li[data-key="${key}"] .level`);
    await page.waitForSelector('#alerts li[data-key="heavy-rain:rg-hue"]');
    await page.waitForSelector('#alerts li[data-key="sensor-fault:kim-long"]');
    expect(await label('heavy-rain:rg-hue')).toBe('Mưa to');
    expect(await page.getAttribute('#alerts li[data-key="heavy-rain:rg-hue"] .level', 'title')).toBe('Heavy rain');
    expect(await label('sensor-fault:kim-long')).toBe('Lỗi cảm biến');
    expect(await label('flood:kim-long')).toBe('Báo động 1');
    // the words come from the alert, as the API serves it
    // an alert is published first and written right after (rules/README.md): the page may see it
    // before the API's list does
    const body = await waitFor(async () => {
      const b = (await api('/api/v1/alerts?status=active,acknowledged')).body as { alerts: Array<{ key: string }> };
      return b.alerts.some((a) => a.key === 'heavy-rain:rg-hue') ? b : undefined;
    }, 10_000, 'the rain alert in the API');
    const byKey = (k: string) => body.alerts.find((a: { key: string }) => a.key === k) as never as { levelName: unknown; windows: Array<{ window: string; sum: number }> };
    expect(byKey('heavy-rain:rg-hue').levelName).toEqual({ vi: 'Mưa to', en: 'Heavy rain' });
    expect(byKey('heavy-rain:rg-hue').windows.map((w: { window: string; sum: number }) => `${w.window} ${w.sum}`)).toEqual(['24h 30', '12h 30', '6h 30', '3h 30', '1h 30']);
    // the fault's headline gives the raw reading, not the fault flag ("1,00 m")
    expect(await page.textContent('#alerts li[data-key="sensor-fault:kim-long"] strong')).toBe('Cảm biến mực nước tại trạm Kim Long báo giá trị bất thường: 150,00 m');
    // a river keeps its alarm levels ("báo động") on its chart; no other alert says "BĐ"
    const labels = await page.$$eval('#alerts li .level', (els) => els.map((e) => e.textContent ?? ''));
    expect(labels.filter((t) => t.startsWith('BĐ'))).toEqual([]);
    await shot('6-level-names');
  });
});
