import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import { connectClient, tempDir, waitFor } from './helpers.ts';
import { BIN, launchHuewatch, type HuewatchChild } from './huewatch-child.ts';

const CHROMIUM = '/usr/bin/chromium';

/** `huewatch user …` as an administrator runs it, the password on stdin (or a file named in args). */
function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`huewatch ${args.join(' ')}: no exit after 60 s: ${stdout}${stderr}`)); }, 60_000);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(stdin);
  });
}

/**
 * Named operators end to end (#14.2): the first admin made with the CLI before the platform ever
 * ran, an operator added with the CLI while it runs, Chromium signing in on the console with a
 * name and password, acknowledging an alert that then names the person in its history; a
 * cookie-authenticated change without the CSRF header refused; sign-out ending the session;
 * repeated wrong passwords locking the name out.
 */
describe('named operators: huewatch user, console sign-in, who did what (#14)', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let hw: HuewatchChild;
  let browser: BrowserContext;
  let page: Page;
  let adminToken: string;
  let env: Record<string, string>;
  const PASSWORD = 'Song-Huong-lu-2026';

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(hw.httpUrl + path, { ...init, signal: AbortSignal.timeout(15_000) });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as any };
  };

  beforeAll(async () => {
    data = await tempDir();
    env = { DATA_DIR: data.dir };
    // the first admin, before the platform has ever run: straight into the state database
    await writeFile(join(data.dir, 'chief.pw'), 'chief-password-77\n');
    const first = await cli(['user', 'add', 'chief', '--role', 'admin', '--display-name', 'Trần Văn Chính', '--password-file', join(data.dir, 'chief.pw')], env);
    expect(first.code, first.stderr).toBe(0);
    adminToken = /bearer token for scripts: (hwu_\S+)/.exec(first.stdout)![1]!;

    hw = await launchHuewatch({ dataDir: data.dir, env: { LOGIN_MAX_FAILURES: '3' } });
    expect(await hw.ready).toBe('banner');
    env.HTTP_PORT = new URL(hw.httpUrl).port;
    browser = await chromium.launchPersistentContext(join(data.dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1360, height: 900 },
      timeout: 30_000,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hw?.stop();
    await data?.cleanup();
  });

  it('adds an operator with the CLI while the platform runs; the first admin\'s own token manages accounts', async () => {
    const add = await cli(['user', 'add', 'lan', '--role', 'operator', '--display-name', 'Nguyễn Thị Lan'], env, `${PASSWORD}\n`);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/Created operator account lan \(Nguyễn Thị Lan\)/);
    expect(add.stdout).toMatch(/bearer token for scripts: hwu_/);
    const weak = await cli(['user', 'add', 'tuan', '--role', 'operator'], env, 'short\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/password: a password has at least 10 characters/);
    const list = await cli(['user', 'list'], env);
    expect(list.stdout).toMatch(/chief\s+admin\s+enabled/);
    expect(list.stdout).toMatch(/lan\s+operator\s+enabled/);
    expect(list.stdout).not.toContain(PASSWORD);
    const users = await api('/api/v1/users', { headers: { authorization: `Bearer ${adminToken}` } });
    expect(users.status).toBe(200);
    expect(users.body.users.map((u: { name: string }) => u.name)).toEqual(['chief', 'lan']);
  });

  it('signs the operator in on the console, acknowledges an alert, and the history names her', async () => {
    // an alert to acknowledge: Kim Long at 1.2 m, alarm level 1
    const reg = await api('/api/v1/devices', { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ deviceId: 'kl-01', station: 'kim-long' }) });
    expect(reg.status).toBe(201);
    const device = await connectClient(hw.mqttUrl, { username: 'kl-01', password: reg.body.secret, clientId: 'kl-01' });
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: Date.now(), seq: 1, m: { water_level: 1.2 } }), { qos: 1 });
    await device.endAsync();
    const alert = await waitFor(async () => (await api('/api/v1/alerts?status=active')).body.alerts?.find((a: { key: string }) => a.key === 'flood:kim-long'), 30_000, 'the Kim Long alert');

    await page.goto(hw.httpUrl + '/');
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#user-name', 'lan');
    await page.fill('#user-password', PASSWORD);
    await page.click('#login-btn');
    await page.waitForSelector('#who[data-user="lan"]');
    expect(await page.textContent('#who')).toContain('Nguyễn Thị Lan');
    const [cookie] = (await browser.cookies(hw.httpUrl)).filter((c) => c.name === 'huewatch_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });

    await page.click(`#alerts li[data-alert-id="${alert.id}"] button.ack`);
    await page.waitForSelector('#ack-result[data-outcome="ok"]');
    await page.waitForSelector(`#alerts li[data-alert-id="${alert.id}"][data-status="acknowledged"]`);
    expect(await page.textContent(`#alerts li[data-alert-id="${alert.id}"] .status`)).toContain('lan');
    await page.click(`#alerts li[data-alert-id="${alert.id}"] button.history`);
    await page.waitForSelector('#history li[data-status="acknowledged"][data-user="lan"]');
    expect(await page.textContent('#history li[data-status="acknowledged"]')).toMatch(/\d{2}:\d{2}.*lan/);

    const stored = await api(`/api/v1/alerts/${alert.id}`);
    expect(stored.body.operator).toMatchObject({ user: 'lan' });
    expect(stored.body.history.map((h: { status: string; operator?: { user: string } }) => [h.status, h.operator?.user])).toEqual([['active', undefined], ['acknowledged', 'lan']]);
  });

  it('refuses a change authenticated by the session cookie without the CSRF header', async () => {
    const [cookie] = (await browser.cookies(hw.httpUrl)).filter((c) => c.name === 'huewatch_session');
    const jar = `huewatch_session=${cookie!.value}`;
    const { body: alert } = await api('/api/v1/alerts?status=acknowledged').then((r) => ({ body: r.body.alerts[0] }));
    const forged = await api(`/api/v1/alerts/${alert.id}/cancel`, { method: 'POST', headers: { cookie: jar, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'forged by another site' }) });
    expect(forged.status).toBe(403);
    expect(forged.body.message).toMatch(/x-huewatch-csrf/);
    // reading is not a change: the same cookie reads the session (and its CSRF token)
    expect((await api('/api/v1/session', { headers: { cookie: jar } })).body).toMatchObject({ name: 'lan', kind: 'session' });
    expect((await api(`/api/v1/alerts/${alert.id}`)).body.status).toBe('acknowledged');
  });

  it('shows on the console only the hazards the operator chose in her panel', async () => {
    const item = '#alerts li[data-key="flood:kim-long"]';
    await page.waitForSelector(item);
    // console: rain only; the Kim Long flood alert leaves her list
    await page.check('fieldset[data-channel="console"] input[value="rain"]');
    await page.click('#prefs-save');
    await page.waitForSelector('#prefs-note[data-saved="true"]');
    await page.waitForSelector(item, { state: 'detached' });
    const { body } = await api('/api/v1/alerts?status=active,acknowledged');
    expect(body.alerts.map((a: { key: string }) => a.key)).toContain('flood:kim-long'); // still in force: only her view changed
    // and back: every hazard
    await page.evaluate("document.querySelector('#prefs-note').removeAttribute('data-saved')");
    await page.uncheck('fieldset[data-channel="console"] input[value="rain"]');
    await page.click('#prefs-save');
    await page.waitForSelector('#prefs-note[data-saved="true"]');
    await page.waitForSelector(item);
  });

  it('ends the session on sign-out: the old cookie is refused', async () => {
    const [cookie] = (await browser.cookies(hw.httpUrl)).filter((c) => c.name === 'huewatch_session');
    await page.click('#logout-btn');
    await page.waitForSelector('#user-name:not([hidden])');
    expect((await browser.cookies(hw.httpUrl)).filter((c) => c.name === 'huewatch_session' && c.value !== '')).toEqual([]);
    expect((await api('/api/v1/session', { headers: { cookie: `huewatch_session=${cookie!.value}` } })).status).toBe(401);
  });

  it('locks the name out after repeated wrong passwords, then refuses even the right one; every failure is audited', async () => {
    const refusals: string[] = [];
    for (let i = 0; i < 8 && !refusals.includes('429'); i++) {
      // each answer marks #who with its status: cleared first, so the wait is for this attempt's
      await page.evaluate("document.querySelector('#who').removeAttribute('data-refused')");
      await page.fill('#user-name', 'lan');
      await page.fill('#user-password', `wrong-password-${i}`);
      await page.click('#login-btn');
      await page.waitForSelector('#who[data-refused]');
      refusals.push((await page.getAttribute('#who', 'data-refused'))!);
    }
    expect(refusals[0]).toBe('401');
    expect(refusals.at(-1)).toBe('429');
    expect(refusals.length).toBeLessThanOrEqual(5);
    const right = await api('/api/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'lan', password: PASSWORD }) });
    expect(right.status).toBe(429);
    const audit = await api('/api/v1/audit', { headers: { authorization: `Bearer ${adminToken}` } });
    const mine = audit.body.entries.filter((e: { account?: string }) => e.account === 'lan').map((e: { action: string }) => e.action);
    expect(mine.filter((a: string) => a === 'session.failed')).toHaveLength(refusals.filter((r) => r === '401').length);
    expect(mine).toEqual(expect.arrayContaining(['account.add', 'session.login', 'session.logout', 'session.refused']));
  });
});
