import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandler } from '../api/errors.ts';
import { installOpenApi } from '../api/openapi.ts';
import { pushRoutes } from '../api/routes/push.ts';
import type { AlertEvent } from '../contract/alert.ts';
import { silentLogger } from '../lib/log.ts';
import { residentAreas } from '../lib/resident-areas.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../lib/stations.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert, kimLongUpdate } from '../test/alert-fixtures.ts';
import { tempDir, waitFor } from '../test/helpers.ts';
import type { AlertSource } from './source.ts';
import { createWebPushDelivery, loadOrCreateVapidKeys, OUTBOX_NAMESPACE, SUBSCRIPTIONS_NAMESPACE, type VapidKeys, type WebPushDelivery } from './webpush.ts';

const log = silentLogger();
const b64u = (b: Buffer) => b.toString('base64url');

/** A browser's side of a push subscription: its ECDH P-256 key pair and auth secret (RFC 8291 §2). */
function browser(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, subscription: { endpoint, expirationTime: null, keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) } } };
}

/** RFC 8188 aes128gcm body, decrypted as the user agent does with the RFC 8291 §3.4 key schedule. */
function decrypt(body: Buffer, ua: { ecdh: ECDH; auth: Buffer }): string {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  expect(record.length).toBeLessThanOrEqual(rs); // one record
  const ecdhSecret = ua.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ua.ecdh.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, ua.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  expect(plain[end]).toBe(2); // last-record delimiter (RFC 8188 §2)
  return plain.subarray(0, end).toString('utf8');
}

/** RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`; ES256 over the JWT, aud/exp/sub claims. */
function checkVapid(headers: IncomingHttpHeaders, origin: string, vapid: VapidKeys): string[] {
  const problems: string[] = [];
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(headers.authorization ?? '');
  if (!m) return ['no vapid authorization'];
  const [h, p, s] = m[1]!.split('.');
  const pub = Buffer.from(m[2]!, 'base64url');
  if (m[2] !== vapid.publicKey) problems.push('k is not our public key');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) }, format: 'jwk' });
  if (JSON.parse(Buffer.from(h!, 'base64url').toString()).alg !== 'ES256') problems.push('alg');
  if (!verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'))) problems.push('bad signature');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  const now = Date.now() / 1000;
  if (claims.aud !== origin) problems.push(`aud ${claims.aud}`);
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) problems.push('exp'); // RFC 8292 §2: at most 24 h
  if (claims.sub !== vapid.subject) problems.push('sub');
  return problems;
}

describe('Web Push delivery', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedStore;
  let app: FastifyInstance;
  let push: WebPushDelivery;
  let vapid: VapidKeys;
  const em = new EventEmitter();
  const source: AlertSource = { subscribe: (l) => (em.on('e', l), () => em.off('e', l)) };
  const emit = (event: AlertEvent) => em.emit('e', { event });
  const received: Array<{ path: string; headers: IncomingHttpHeaders; body: Buffer }> = [];
  let status: Record<string, number> = {};
  const service = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status[req.url ?? ''] ?? 201).end();
    });
  });
  let origin = '';

  beforeAll(async () => {
    dir = await tempDir('huewatch-push-');
    store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    vapid = await loadOrCreateVapidKeys({ env: {}, dataDir: dir.dir, production: false });
    push = createWebPushDelivery({ vapid, source, state: store, log, backoff: { baseMs: 20, maxMs: 50 } });
    await push.start();
    app = Fastify();
    installErrorHandler(app);
    await installOpenApi(app); // the routes' zod schemas validate their input, as in the API
    await app.register(async (scope) => pushRoutes(scope, { push }));
  });
  afterAll(async () => {
    await push?.stop();
    await app?.close();
    await store?.close();
    await new Promise<void>((r) => service.close(() => r()));
    await dir?.cleanup();
  });

  it('keeps the development VAPID key in the data folder and reuses it', async () => {
    expect(await loadOrCreateVapidKeys({ env: {}, dataDir: dir.dir, production: false })).toEqual(vapid);
    await expect(loadOrCreateVapidKeys({ env: {}, dataDir: dir.dir, production: true })).rejects.toThrow(/VAPID_PUBLIC_KEY/);
    expect((await app.inject('/api/v1/push/vapid-public-key')).json()).toEqual({ publicKey: vapid.publicKey });
  });

  it('pushes an alert to the subscriptions of its area, signed with VAPID and encrypted so only that browser reads it', async () => {
    const phone = browser(`${origin}/push/phone`);
    const elsewhere = browser(`${origin}/push/elsewhere`);
    for (const [b, areas] of [[phone, ['kim-long', 'phu-oc']], [elsewhere, ['a-luoi']]] as const) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', payload: { subscription: b.subscription, areas } });
      expect(res.statusCode).toBe(201);
    }
    const bad = await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', payload: { subscription: { endpoint: 'not a url', keys: {} }, areas: [] } });
    expect(bad.json().code).toBe('HW_ERR_BAD_REQUEST');

    const alert = kimLongAlert(Date.now() - 1000);
    emit(alert);
    await waitFor(() => received.length >= 1 && push.pending === 0, 3000, 'the push');
    await new Promise((r) => setTimeout(r, 100));
    expect(received.map((r) => r.path)).toEqual(['/push/phone']);
    const [got] = received;
    expect(got!.headers['content-encoding']).toBe('aes128gcm');
    expect(Number(got!.headers.ttl)).toBeGreaterThan(3600);
    expect(got!.headers.urgency).toBe('high');
    expect(checkVapid(got!.headers, origin, vapid)).toEqual([]);
    const payload = JSON.parse(decrypt(got!.body, phone));
    expect(payload).toEqual({
      lang: 'vi', hazard: 'flood', event: alert.event.vi,
      id: alert.id, seq: 1, type: 'Alert', status: 'active', severity: 'Moderate', level: 1, areas: ['kim-long'],
      headline: alert.headline.vi, instruction: alert.instruction.vi, sent: alert.sent, expires: alert.expires,
    });
    expect(() => decrypt(got!.body, elsewhere)).toThrow(); // another browser's keys cannot read it
  });

  it('removes a subscription the push service says is gone (410), and honours an unsubscribe', async () => {
    received.length = 0;
    const gone = browser(`${origin}/push/gone`);
    await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', payload: { subscription: gone.subscription, areas: ['kim-long'] } });
    status = { '/push/gone': 410 };
    const before = push.subscriptions;
    emit(kimLongUpdate(kimLongAlert(Date.now() - 2000), Date.now() - 500));
    await waitFor(() => push.subscriptions === before - 1 && push.pending === 0, 3000, 'the gone subscription to be removed');
    expect(received.map((r) => r.path).sort()).toEqual(['/push/gone', '/push/phone']);
    expect((await store.listJson(SUBSCRIPTIONS_NAMESPACE)).length).toBe(before - 1);

    const del = await app.inject({ method: 'DELETE', url: '/api/v1/push/subscriptions', payload: { endpoint: `${origin}/push/phone` } });
    expect(del.statusCode).toBe(204);
    received.length = 0;
    emit(kimLongAlert(Date.now(), { id: 'a-kim-long-9' }));
    await new Promise((r) => setTimeout(r, 200));
    expect(received).toEqual([]);
  });

  it('never pushes an alert for operators only, and refuses a subscription for the operators\' area', async () => {
    received.length = 0;
    status = {};
    const resident = browser(`${origin}/push/resident`);
    const refused = await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', payload: { subscription: resident.subscription, areas: ['kim-long', 'operators'] } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'HW_ERR_BAD_REQUEST', message: expect.stringMatching(/operators/) });
    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', payload: { subscription: resident.subscription, areas: ['kim-long'] } })).statusCode).toBe(201);
    // one stored before the API refused that area still gets nothing
    const legacy = browser(`${origin}/push/legacy`);
    await push.subscribe(legacy.subscription, ['operators', 'kim-long']);

    const t = Date.now();
    const fault = kimLongAlert(t - 1000, { id: 'a-fault-1', key: 'sensor-fault:kim-long', area: { ...kimLongAlert(t).area, codes: ['operators'] } });
    const flood = kimLongAlert(t, { id: 'a-kim-long-10' });
    emit(fault);
    emit(flood); // after the fault: once its pushes are out, the fault's would have been too
    await waitFor(() => received.length >= 2 && push.pending === 0, 3000, 'the flood pushes');
    expect(received.map((r) => r.path).sort()).toEqual(['/push/legacy', '/push/resident']);
    for (const [r, b] of [[received.find((x) => x.path === '/push/resident')!, resident], [received.find((x) => x.path === '/push/legacy')!, legacy]] as const) {
      expect(JSON.parse(decrypt(r.body, b)).id).toBe(flood.id);
    }
  });
});

describe('Web Push fan-out beyond the store queue', () => {
  it('pushes one alert to more subscriptions than the store queues operations, every one of them', async () => {
    const dir = await tempDir('huewatch-push-many-');
    // a store that refuses past 20 waiting operations: the outbox must not need one per push
    const store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log, maxPending: 20 });
    const got = new Set<string>();
    const service = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        got.add(req.url ?? '');
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    const em = new EventEmitter();
    const push = createWebPushDelivery({
      vapid: await loadOrCreateVapidKeys({ env: {}, dataDir: dir.dir, production: false }),
      source: { subscribe: (l) => (em.on('e', l), () => em.off('e', l)) },
      state: store,
      log,
    });
    try {
      await push.start();
      const n = 300;
      for (let i = 0; i < n; i++) await push.subscribe(browser(`${origin}/push/${i}`).subscription, ['kim-long']);
      em.emit('e', { event: kimLongAlert(Date.now()) });
      await waitFor(() => got.size === n && push.pending === 0, 20_000, 'every push sent');
      expect(await store.listJson(OUTBOX_NAMESPACE)).toEqual([]); // nothing left to send again after a restart
    } finally {
      await push.stop();
      await store.close();
      await new Promise<void>((r) => service.close(() => r()));
      await dir.cleanup();
    }
  });
});

describe("residents' choices: areas (districts), hazards, minimum severity, language", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedStore;
  let app: FastifyInstance;
  let push: WebPushDelivery;
  const em = new EventEmitter();
  const emit = (event: AlertEvent) => em.emit('e', { event });
  const received: Array<{ path: string; body: Buffer }> = [];
  const service = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  let origin = '';
  const areas = residentAreas(loadStations(DEFAULT_STATIONS_FILE));
  const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', payload });
  const put = (payload: object) => app.inject({ method: 'PUT', url: '/api/v1/push/subscriptions', payload });
  const settle = async (n: number) => {
    await waitFor(() => received.length >= n && push.pending === 0, 5000, `${n} pushes`);
    await new Promise((r) => setTimeout(r, 150));
  };

  beforeAll(async () => {
    dir = await tempDir('huewatch-push-choices-');
    store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    const vapid = await loadOrCreateVapidKeys({ env: {}, dataDir: dir.dir, production: false });
    push = createWebPushDelivery({ vapid, source: { subscribe: (l) => (em.on('e', l), () => em.off('e', l)) }, state: store, log, areas, backoff: { baseMs: 20, maxMs: 50 } });
    await push.start();
    app = Fastify();
    installErrorHandler(app);
    await installOpenApi(app);
    await app.register(async (scope) => pushRoutes(scope, { push }));
  });
  afterAll(async () => {
    await push?.stop();
    await app?.close();
    await store?.close();
    await new Promise<void>((r) => service.close(() => r()));
    await dir?.cleanup();
  });

  it('offers each district once, by its official name, with the stations it holds', async () => {
    const res = await app.inject('/api/v1/push/choices');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { areas: Array<{ code: string; name: string; codes: string[] }>; hazards: Array<{ code: string; name: { vi: string; en: string } }>; severities: Array<{ code: string }>; languages: string[] };
    const names = body.areas.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => /A Lưới/.test(n))).toEqual(['Huyện A Lưới']);
    expect(names.filter((n) => /Nam Đông/.test(n))).toEqual(['Huyện Nam Đông']);
    // each station's area code in exactly one district
    const codes = body.areas.flatMap((a) => a.codes);
    expect(new Set(codes).size).toBe(codes.length);
    expect(body.areas.find((a) => a.code === 'huyen-a-luoi')?.codes).toEqual(expect.arrayContaining(['a-luoi', 'rg-a-luoi']));
    expect(body.areas.find((a) => a.code === 'huyen-nam-dong')?.codes).toEqual(expect.arrayContaining(['rg-huong-phu', 'rg-nam-dong', 'rg-thuong-nhat', 'thuong-nhat']));
    expect(body.areas.find((a) => a.code === 'thanh-pho-hue')?.codes).toEqual(expect.arrayContaining(['kim-long', 'rg-hue', 'aq-hue-center']));
    expect(body.hazards.map((h) => h.code)).toEqual(expect.arrayContaining(['flood', 'rain', 'reservoir', 'storm', 'air', 'fire']));
    expect(body.hazards.find((h) => h.code === 'flood')?.name.vi).toMatch(/Lũ/);
    expect(body.severities.map((s) => s.code)).toEqual(['Unknown', 'Minor', 'Moderate', 'Severe', 'Extreme']);
    expect(body.languages).toEqual(['vi', 'en']);
  });

  it('refuses an unknown area or hazard, naming it', async () => {
    const b = browser(`${origin}/push/x`);
    const area = await post({ subscription: b.subscription, areas: ['huyen-atlantis'] });
    expect(area.statusCode).toBe(400);
    expect(area.json()).toMatchObject({ code: 'HW_ERR_BAD_REQUEST', message: expect.stringMatching(/unknown area "huyen-atlantis".*Huyện A Lưới/) });
    const hazard = await post({ subscription: b.subscription, areas: ['huyen-a-luoi'], hazards: ['volcano'] });
    expect(hazard.statusCode).toBe(400);
    expect(hazard.json().message).toMatch(/hazards/);
    const sev = await post({ subscription: b.subscription, areas: ['huyen-a-luoi'], minSeverity: 'Terrible' });
    expect(sev.statusCode).toBe(400);
    expect(sev.json().message).toMatch(/minSeverity/);
    const lang = await post({ subscription: b.subscription, areas: ['huyen-a-luoi'], lang: 'fr' });
    expect(lang.statusCode).toBe(400);
    expect(lang.json().message).toMatch(/lang/);
  });

  it('pushes only what matches area, hazard and severity, in the chosen language; edits need the endpoint and keys', async () => {
    const hue = browser(`${origin}/push/hue-en`);
    const aLuoi = browser(`${origin}/push/a-luoi`);
    // the district of Kim Long, floods only, Severe or worse, in English
    expect((await post({ subscription: hue.subscription, areas: ['thanh-pho-hue'], hazards: ['flood'], minSeverity: 'Severe', lang: 'en' })).statusCode).toBe(201);
    expect((await post({ subscription: aLuoi.subscription, areas: ['huyen-a-luoi'] })).statusCode).toBe(201);

    const t = Date.now();
    const moderate = kimLongAlert(t - 3000, { id: 'c-1' }); // Moderate: below the Huế choice
    const rainHue = kimLongAlert(t - 2500, { id: 'c-2', key: 'heavy-rain:rg-hue', event: { vi: 'Mưa lớn', en: 'Heavy rain' }, severity: 'Extreme', area: { ...moderate.area, codes: ['rg-hue'] } });
    const rainALuoi = kimLongAlert(t - 2000, { id: 'c-3', key: 'heavy-rain:rg-a-luoi', event: { vi: 'Mưa lớn', en: 'Heavy rain' }, severity: 'Minor', area: { ...moderate.area, codes: ['rg-a-luoi'] } });
    const severe = kimLongUpdate(moderate, t - 1000);
    for (const ev of [moderate, rainHue, rainALuoi, severe]) emit(ev);
    await settle(2);
    expect(received.map((r) => r.path).sort()).toEqual(['/push/a-luoi', '/push/hue-en']);
    const en = JSON.parse(decrypt(received.find((r) => r.path === '/push/hue-en')!.body, hue));
    expect(en).toMatchObject({ id: 'c-1', seq: 2, lang: 'en', hazard: 'flood', severity: 'Severe', headline: severe.headline.en, instruction: severe.instruction.en });
    const vi = JSON.parse(decrypt(received.find((r) => r.path === '/push/a-luoi')!.body, aLuoi));
    expect(vi).toMatchObject({ id: 'c-3', lang: 'vi', hazard: 'rain', headline: rainALuoi.headline.vi });

    // the keys prove the browser: without them (or with another browser's) nothing changes
    const proof = { endpoint: hue.subscription.endpoint, keys: hue.subscription.keys };
    const stranger = await put({ subscription: { endpoint: hue.subscription.endpoint, keys: aLuoi.subscription.keys }, areas: ['huyen-a-luoi'] });
    expect(stranger.statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions/find', payload: { endpoint: hue.subscription.endpoint, keys: aLuoi.subscription.keys } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions/find', payload: proof })).json()).toEqual({ areas: ['thanh-pho-hue'], hazards: ['flood'], minSeverity: 'Severe', lang: 'en' });
    expect((await put({ subscription: proof, areas: ['nowhere'] })).statusCode).toBe(400);
    const edited = await put({ subscription: proof, areas: ['thanh-pho-hue'], hazards: ['flood', 'rain'], minSeverity: 'Moderate', lang: 'vi' });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toEqual({ areas: ['thanh-pho-hue'], hazards: ['flood', 'rain'], minSeverity: 'Moderate', lang: 'vi' });
    // stored with the subscription: a restart reads them back
    expect((await store.listJson<{ hazards: string[] }>(SUBSCRIPTIONS_NAMESPACE)).find((s) => s.value.hazards?.includes('rain'))).toBeTruthy();

    received.length = 0;
    const rainAgain = kimLongAlert(Date.now(), { id: 'c-4', key: 'heavy-rain:rg-hue', event: { vi: 'Mưa lớn', en: 'Heavy rain' }, severity: 'Moderate', area: { ...moderate.area, codes: ['rg-hue'] } });
    emit(rainAgain);
    await settle(1);
    expect(received.map((r) => r.path)).toEqual(['/push/hue-en']);
    expect(JSON.parse(decrypt(received[0]!.body, hue))).toMatchObject({ id: 'c-4', lang: 'vi', headline: rainAgain.headline.vi });

    // unsubscribing removes the choices with the subscription
    const wrongKeys = await app.inject({ method: 'DELETE', url: '/api/v1/push/subscriptions', payload: { endpoint: hue.subscription.endpoint, keys: aLuoi.subscription.keys } });
    expect(wrongKeys.statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/push/subscriptions', payload: proof })).statusCode).toBe(204);
    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions/find', payload: proof })).statusCode).toBe(404);
    expect((await store.listJson<{ subscription: { endpoint: string } }>(SUBSCRIPTIONS_NAMESPACE)).map((s) => s.value.subscription.endpoint)).not.toContain(hue.subscription.endpoint);
  });
});
