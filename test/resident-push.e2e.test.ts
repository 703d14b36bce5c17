import { createDecipheriv, createECDH, hkdfSync, type ECDH } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';
import { tempDir, waitFor } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../.test-artifacts/resident/', import.meta.url).pathname;
const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  timeout: 30_000,
};
const PHONE = { width: 412, height: 915 };

/**
 * The residents' installable web app against `huewatch start`, in Chromium: the manifest and
 * service worker, the area picker, and Web Push subscriptions made from the page that receive the
 * next alert of their area and none of another area or a lower severity.
 *
 * The push SERVICE is a fake, and this is the one thing not real here. A browser's push
 * subscription names an endpoint at its vendor's push service (Chromium: Google's FCM), which
 * Chromium must reach to subscribe and which relays each message to the browser; neither is
 * possible on this machine. So the page's `PushManager.subscribe` is replaced (an init script,
 * FAKE_PUSH_MANAGER) by one that does what the browser does locally: a new P-256 key pair and auth
 * secret (RFC 8291 §2) made with WebCrypto, the VAPID key the page passed recorded, and an endpoint
 * at FAKE PUSH SERVICE (a local HTTP server that records what the platform POSTs). Everything
 * else is the product: the page asks for permission, registers the service worker, subscribes with
 * the platform's VAPID key and sends its choices; the platform filters, encrypts and POSTs with
 * web-push. The test then does the push service's part: it decrypts each recorded POST with the
 * subscription's keys and hands the plaintext to the page's real service worker through the
 * DevTools protocol (ServiceWorker.deliverPushMessage), which shows the notification.
 */
const FAKE_PUSH_MANAGER = `(() => {
  if (!('PushManager' in self) || self.__fakePushService) return;
  self.__fakePushService = true;
  const SERVICE = __SERVICE__;
  const KEY = 'fake-push-service-subscription';
  const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const fromB64u = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0));
  const make = (s) => ({
    endpoint: s.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: fromB64u(s.applicationServerKey).buffer },
    getKey: (name) => fromB64u(name === 'auth' ? s.auth : s.p256dh).buffer,
    toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: { p256dh: s.p256dh, auth: s.auth } }),
    unsubscribe: async () => { localStorage.removeItem(KEY); localStorage.setItem(KEY + '-unsubscribed', s.endpoint); return true; },
  });
  PushManager.prototype.getSubscription = async function () {
    const held = localStorage.getItem(KEY);
    return held ? make(JSON.parse(held)) : null;
  };
  PushManager.prototype.subscribe = async function (options) {
    if (Notification.permission !== 'granted') throw new DOMException('notifications not allowed', 'NotAllowedError');
    if (!options || !options.userVisibleOnly || !options.applicationServerKey) throw new DOMException('userVisibleOnly and applicationServerKey are required', 'NotSupportedError');
    const held = localStorage.getItem(KEY);
    if (held) return make(JSON.parse(held));
    const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
    const s = {
      endpoint: SERVICE + '/' + crypto.randomUUID(),
      p256dh: b64u(await crypto.subtle.exportKey('raw', pair.publicKey)),
      auth: b64u(crypto.getRandomValues(new Uint8Array(16))),
      privateJwk: await crypto.subtle.exportKey('jwk', pair.privateKey),
      applicationServerKey: b64u(options.applicationServerKey),
    };
    localStorage.setItem(KEY, JSON.stringify(s));
    return make(s);
  };
})();`;

interface FakeSubscription { endpoint: string; p256dh: string; auth: string; privateJwk: { d: string }; applicationServerKey: string }

/** RFC 8188 aes128gcm, decrypted with the RFC 8291 §3.4 key schedule, as the user agent does. */
function decrypt(body: Buffer, sub: FakeSubscription): string {
  const ecdh: ECDH = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(sub.privateJwk.d, 'base64url'));
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), Buffer.from(sub.p256dh, 'base64url'), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdh.computeSecret(asPublic), Buffer.from(sub.auth, 'base64url'), keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  return plain.subarray(0, end).toString('utf8'); // drop the delimiter (RFC 8188 §2)
}

describe("the residents' web app: install, choose, get pushed", () => {
  let hw: HuewatchChild;
  let url = '';
  let profile: Awaited<ReturnType<typeof tempDir>>;
  let operatorToken = '';
  let browser: Browser;
  /** a real profile (a persistent context): an incognito one is never installable */
  let hueCtx: BrowserContext;
  let aLuoiCtx: BrowserContext;
  let hue: Page;
  let aLuoi: Page;
  /** what the platform POSTed to the FAKE PUSH SERVICE */
  const posts: Array<{ path: string; headers: IncomingHttpHeaders; body: Buffer }> = [];
  const fakePushService = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  let serviceUrl = '';

  const subscriptionOf = async (p: Page) => JSON.parse((await p.evaluate("localStorage.getItem('fake-push-service-subscription')")) as string) as FakeSubscription;
  const postsTo = (sub: FakeSubscription) => posts.filter((p) => serviceUrl + p.path === sub.endpoint);
  let slug = 0;
  const manualAlert = async (code: string, severity: string, event: { vi: string; en: string }) => {
    const n = ++slug;
    const res = await fetch(url + '/api/v1/alerts', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken}` },
      body: JSON.stringify({
        slug: `resident-push-${n}`, event, category: 'Met', severity,
        headline: { vi: `${event.vi} số ${n} (${severity}) tại ${code}`, en: `${event.en} no. ${n} (${severity}) at ${code}` },
        description: { vi: `Thử nghiệm ${n}`, en: `Test ${n}` },
        instruction: { vi: `Làm theo hướng dẫn ${n}`, en: `Follow advice ${n}` },
        area: { name: { vi: code, en: code }, codes: [code] },
      }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; headline: { vi: string; en: string } };
  };
  const FLOOD = { vi: 'Lũ', en: 'Flood' };
  const RAIN = { vi: 'Mưa lớn', en: 'Heavy rain' };

  async function openPage(ctx: BrowserContext, area: string): Promise<Page> {
    const p = await ctx.newPage();
    p.setDefaultTimeout(20_000);
    await p.goto(`${url}/resident.html?area=${area}`);
    await p.waitForSelector('body[data-ready="true"]');
    await p.waitForSelector('body[data-worker="ready"]');
    await p.waitForSelector('#push-status[data-state="off"]');
    return p;
  }

  /** The push service's last step: the decrypted message to the page's service worker (DevTools protocol). */
  async function deliverToWorker(p: Page, ctx: BrowserContext, data: string) {
    const cdp: CDPSession = await ctx.newCDPSession(p);
    const registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: typeof registrations }) => registrations.push(...e.registrations));
    await cdp.send('ServiceWorker.enable');
    const reg = await waitFor(() => registrations.find((r) => r.scopeURL === `${url}/resident.html` && !r.isDeleted), 10_000, 'the service worker registration');
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: url, registrationId: reg.registrationId, data });
    await cdp.detach();
  }
  const notifications = (p: Page) =>
    p.evaluate('navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({ title: n.title, body: n.body, lang: n.lang, tag: n.tag })))') as Promise<Array<{ title: string; body: string; lang: string; tag: string }>>;

  beforeAll(async () => {
    await new Promise<void>((r) => fakePushService.listen(0, '127.0.0.1', r));
    serviceUrl = `http://127.0.0.1:${(fakePushService.address() as AddressInfo).port}`;
    hw = await startHuewatch();
    url = hw.httpUrl;
    operatorToken = (await hw.secrets()).operatorToken;
    profile = await tempDir('huewatch-resident-profile-');
    const prepare = async (ctx: BrowserContext) => {
      await ctx.grantPermissions(['notifications'], { origin: url });
      await ctx.addInitScript({ content: FAKE_PUSH_MANAGER.replace('__SERVICE__', JSON.stringify(`${serviceUrl}/fake-push-service`)) });
      return ctx;
    };
    // two residents, two browsers (a browser holds one push subscription per service worker)
    hueCtx = await prepare(await chromium.launchPersistentContext(profile.dir, { ...LAUNCH, viewport: PHONE }));
    browser = await chromium.launch(LAUNCH);
    aLuoiCtx = await prepare(await browser.newContext({ viewport: PHONE }));
  }, 180_000);

  afterAll(async () => {
    await hueCtx?.close();
    await browser?.close();
    await profile?.cleanup();
    await hw?.stop();
    await new Promise<void>((r) => fakePushService.close(() => r()));
  });

  it('is an installable web app: manifest, icons and a service worker that controls the page', async () => {
    hue = await openPage(hueCtx, 'kim-long');
    const manifestHref = await hue.getAttribute('link[rel="manifest"]', 'href');
    const res = await fetch(new URL(manifestHref!, url));
    expect(res.headers.get('content-type')).toMatch(/^application\/manifest\+json/);
    const manifest = (await res.json()) as { name: string; lang: string; start_url: string; display: string; icons: Array<{ src: string; sizes: string; type: string }> };
    expect(manifest).toMatchObject({ name: 'Cảnh báo thiên tai Thừa Thiên Huế', lang: 'vi', start_url: '/resident.html', display: 'standalone' });
    for (const icon of manifest.icons) {
      const r = await fetch(new URL(icon.src, url));
      expect(r.status, icon.src).toBe(200);
      expect(r.headers.get('content-type')).toBe(icon.type);
      const bytes = Buffer.from(await r.arrayBuffer());
      if (icon.type === 'image/png') expect(`${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)}`).toBe(icon.sizes); // IHDR width, height
    }
    const worker = await fetch(`${url}/console/resident-sw.js`);
    expect(worker.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(worker.headers.get('service-worker-allowed')).toBe('/');

    // Chromium's own view: the manifest parses, and the page is installable
    const cdp = await hueCtx.newCDPSession(hue);
    const parsed = (await cdp.send('Page.getAppManifest')) as { errors: Array<{ message: string }>; url: string };
    expect(parsed.errors).toEqual([]);
    const installable = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: Array<{ errorId: string }> };
    expect(installable.installabilityErrors).toEqual([]);
    await cdp.detach();
    const ready = (await hue.evaluate('navigator.serviceWorker.ready.then((r) => ({ scope: r.scope, script: r.active && r.active.scriptURL }))')) as { scope: string; script: string };
    expect(ready).toEqual({ scope: `${url}/resident.html`, script: `${url}/console/resident-sw.js` });
  });

  it('lists each area once, by its official name, and takes an old station link to its district', async () => {
    const names = await hue.$$eval('#area option', (os) => os.map((o) => o.textContent ?? ''));
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.includes('A Lưới'))).toEqual(['Huyện A Lưới']);
    expect(names.filter((n) => n.includes('Nam Đông'))).toEqual(['Huyện Nam Đông']);
    expect(await hue.$eval('#area', (s) => (s as unknown as { selectedOptions: Array<{ textContent: string }> }).selectedOptions[0]?.textContent)).toBe('Thành phố Huế');
    // the push choices offer the same areas, with the page's area ticked
    expect(await hue.$$eval('#push-areas input:checked', (is) => is.map((i) => i.getAttribute('value')))).toEqual(['thanh-pho-hue']);
  });

  it('subscribes from the page; the next alert of its area at its severity is pushed in its language, nothing else', async () => {
    // Huế: English, Severe or worse; A Lưới: Vietnamese, Minor or worse
    await hue.selectOption('#lang', 'en');
    await hue.selectOption('#min-severity', 'Severe');
    await hue.click('#subscribe');
    await hue.waitForSelector('#push-status[data-state="on"]');
    aLuoi = await openPage(aLuoiCtx, 'rg-a-luoi');
    await aLuoi.selectOption('#min-severity', 'Minor');
    await aLuoi.click('#subscribe');
    await aLuoi.waitForSelector('#push-status[data-state="on"]');
    await mkdir(ARTIFACTS, { recursive: true });
    await hue.screenshot({ path: join(ARTIFACTS, 'subscribed-en.png'), fullPage: true });
    await aLuoi.screenshot({ path: join(ARTIFACTS, 'subscribed-vi.png'), fullPage: true });

    const hueSub = await subscriptionOf(hue);
    const aLuoiSub = await subscriptionOf(aLuoi);
    const vapid = (await (await fetch(`${url}/api/v1/push/vapid-public-key`)).json()) as { publicKey: string };
    expect(hueSub.applicationServerKey).toBe(vapid.publicKey); // the page subscribed with the platform's key
    const stored = await fetch(`${url}/api/v1/push/subscriptions/find`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ endpoint: hueSub.endpoint, keys: { p256dh: hueSub.p256dh, auth: hueSub.auth } }) });
    expect(await stored.json()).toMatchObject({ areas: ['thanh-pho-hue'], minSeverity: 'Severe', lang: 'en' });

    // in this order: one lane per subscription delivers in order, so once the last is in, an
    // earlier one that was going to be pushed would have been too
    await manualAlert('kim-long', 'Moderate', FLOOD); // Huế, below its Severe
    const rainALuoi = await manualAlert('rg-a-luoi', 'Severe', RAIN); // A Lưới only
    const floodHue = await manualAlert('kim-long', 'Severe', FLOOD); // Huế only
    await waitFor(() => postsTo(hueSub).length >= 1 && postsTo(aLuoiSub).length >= 1, 30_000, 'the two pushes');
    await new Promise((r) => setTimeout(r, 2000));
    expect(postsTo(hueSub)).toHaveLength(1);
    expect(postsTo(aLuoiSub)).toHaveLength(1);
    expect(posts).toHaveLength(2);

    const toHue = JSON.parse(decrypt(postsTo(hueSub)[0]!.body, hueSub));
    expect(toHue).toMatchObject({ id: floodHue.id, lang: 'en', hazard: 'flood', severity: 'Severe', headline: floodHue.headline.en });
    const toALuoi = JSON.parse(decrypt(postsTo(aLuoiSub)[0]!.body, aLuoiSub));
    expect(toALuoi).toMatchObject({ id: rainALuoi.id, lang: 'vi', hazard: 'rain', headline: rainALuoi.headline.vi });
    expect(postsTo(hueSub)[0]!.headers.authorization).toMatch(new RegExp(`^vapid t=.+, k=${vapid.publicKey}$`));

    // what the push service would hand the browser: the page's worker shows it
    await deliverToWorker(hue, hueCtx, JSON.stringify(toHue));
    const shown = await waitFor(async () => (await notifications(hue)).find((n) => n.tag === floodHue.id), 15_000, 'the notification');
    expect(shown).toMatchObject({ title: floodHue.headline.en, lang: 'en' });
    expect(shown.body).toContain('Follow advice');
  });

  it('changes the choices from the page, and the delivery follows them', async () => {
    const hueSub = await subscriptionOf(hue);
    await hue.selectOption('#min-severity', 'Moderate');
    await hue.click('#save');
    await hue.waitForSelector('#push-status[data-state="on"]:has-text("saved")');
    posts.length = 0;
    const moderate = await manualAlert('kim-long', 'Moderate', FLOOD);
    await waitFor(() => postsTo(hueSub).length >= 1, 30_000, 'the Moderate push');
    expect(JSON.parse(decrypt(postsTo(hueSub)[0]!.body, hueSub))).toMatchObject({ id: moderate.id, headline: moderate.headline.en });
  });

  it('unsubscribes from the page: the browser drops it and the platform forgets it', async () => {
    const hueSub = await subscriptionOf(hue);
    const aLuoiSub = await subscriptionOf(aLuoi);
    await hue.click('#unsubscribe');
    await hue.waitForSelector('#push-status[data-state="off"]');
    expect(await hue.evaluate("localStorage.getItem('fake-push-service-subscription-unsubscribed')")).toBe(hueSub.endpoint);
    const find = await fetch(`${url}/api/v1/push/subscriptions/find`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ endpoint: hueSub.endpoint, keys: { p256dh: hueSub.p256dh, auth: hueSub.auth } }) });
    expect(find.status).toBe(404);
    posts.length = 0;
    await manualAlert('kim-long', 'Extreme', FLOOD);
    await manualAlert('rg-a-luoi', 'Severe', RAIN); // after it: its push arriving means the Huế one would have
    await waitFor(() => postsTo(aLuoiSub).length >= 1, 30_000, 'the A Lưới push');
    await new Promise((r) => setTimeout(r, 1000));
    expect(postsTo(hueSub)).toEqual([]);
  });

  it('opens without the platform, from the service worker’s cache', async () => {
    // the resident closed the app (its live stream with it); the platform then goes away
    await hue.close();
    await aLuoi.goto('about:blank');
    const stopped = await hw.stop();
    expect(typeof stopped, String(stopped)).not.toBe('string'); // stopped, not killed
    await aLuoi.goto(`${url}/resident.html?area=rg-a-luoi`);
    await aLuoi.waitForSelector('body[data-ready="true"]');
    expect(await aLuoi.textContent('#summary')).toMatch(/Huyện A Lưới.*ngoại tuyến/);
    expect(await aLuoi.$$eval('#area option', (os) => os.length)).toBeGreaterThan(3);
  });
});
