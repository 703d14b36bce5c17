import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const KIM_LONG = { latitude: 16.462, longitude: 107.556 };

/**
 * A resident's SOS end to end (#15.3), in Chromium against `huewatch start`: sent from the
 * residents' page with the browser's position, it appears on the IOC console (an operator signed
 * in) pushed over the stream, with a marker on the map; the operator takes it, assigns a rescue
 * unit and closes it, and the resident's page shows each step.
 */
describe('residents\' SOS in the browser', () => {
  let h: HuewatchChild;
  let browser: Browser;
  let resident: BrowserContext;
  let operator: BrowserContext;

  beforeAll(async () => {
    h = await startHuewatch();
    const { operatorToken } = await h.secrets();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
    resident = await browser.newContext({ geolocation: KIM_LONG, permissions: ['geolocation'], viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
    operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await operator.addInitScript(`sessionStorage.setItem('huewatch-token', ${JSON.stringify(operatorToken)})`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('goes from the residents\' page to the console at once, and the resident sees it taken, assigned and closed', async () => {
    const console_ = await operator.newPage();
    await console_.goto(h.httpUrl + '/');
    await console_.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await console_.waitForFunction("document.getElementById('sos-note')?.textContent?.includes('no SOS calls')", undefined, { timeout: 10_000 });

    const page = await resident.newPage();
    await page.goto(h.httpUrl + '/resident.html');
    await page.click('#sos-gps');
    await page.waitForFunction("document.getElementById('sos-place')?.textContent?.includes('16.462')", undefined, { timeout: 10_000 });
    await page.fill('#sos-text', 'Nước lên tới mái, nhà có 2 người già');
    await page.fill('#sos-phone', '0912 345 678');
    const sentAt = Date.now();
    await page.click('#sos-send');
    await page.waitForSelector('#sos-steps li[data-action="received"]', { timeout: 10_000 });

    // the console has no SOS polling: the call arrives pushed over the stream, with its marker on the map
    const item = console_.locator('#sos > li[data-status="new"]');
    await item.waitFor({ timeout: 5_000 });
    const seenAfterMs = Date.now() - sentAt;
    expect(await item.textContent()).toContain('0912345678');
    expect(await item.textContent()).toContain('Thành phố Huế');
    const id = await item.getAttribute('data-sos');
    await console_.locator(`.sos-marker span[data-sos="${id}"]`).waitFor({ timeout: 5_000 });
    console.info(`SOS on the console ${seenAfterMs} ms after the resident pressed send`);

    await item.locator('.sos-take').click();
    await console_.locator(`#sos > li[data-sos="${id}"][data-status="taken"]`).waitFor({ timeout: 5_000 });
    await page.waitForSelector('#sos-steps li[data-action="taken"]', { timeout: 10_000 });

    const taken = console_.locator(`#sos > li[data-sos="${id}"]`);
    await taken.locator('select.sos-unit').selectOption('qs-hue');
    await taken.locator('.sos-assign').click();
    await console_.locator(`#sos > li[data-sos="${id}"][data-status="assigned"]`).waitFor({ timeout: 5_000 });
    await page.waitForSelector('#sos-steps li[data-action="assigned"]', { timeout: 10_000 });
    expect(await page.locator('#sos-steps li[data-action="assigned"]').textContent()).toContain('Ban Chỉ huy Quân sự thành phố Huế');

    const assigned = console_.locator(`#sos > li[data-sos="${id}"]`);
    await assigned.locator('input.sos-note').fill('Đã đưa 2 người đến nơi an toàn');
    await assigned.locator('.sos-close').click();
    await console_.locator(`#sos > li[data-sos="${id}"][data-status="closed"]`).waitFor({ timeout: 5_000 });
    await page.waitForSelector('#sos-steps li[data-action="closed"]', { timeout: 10_000 });
    // the steps name the person who acted, on the console only
    expect(await console_.locator(`#sos > li[data-sos="${id}"] .sos-steps`).textContent()).toContain('operator');
    expect(await page.locator('#sos-steps').textContent()).not.toContain('operator');
    await console_.locator(`.sos-marker span[data-sos="${id}"]`).waitFor({ state: 'detached', timeout: 5_000 });
  }, 120_000);
});
