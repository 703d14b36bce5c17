import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { createLoginGuard } from '../lib/login-guard.ts';
import { AUDIT_NAMESPACE } from '../rules/operator-actions.ts';
import { createAccounts, SCRYPT_PARAMS, type Accounts } from '../store/accounts.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert } from '../test/alert-fixtures.ts';
import { tempDir } from '../test/helpers.ts';
import { sha256Hex } from './auth.ts';
import type { ApiOptions } from './deps.ts';
import { defaultLoginLimits, registerApi } from './server.ts';

/**
 * Named accounts on the API: a real fastify over a real embedded state store. Sign-in sets a
 * session cookie; requests it authenticates that change something need the session's CSRF
 * header; repeated wrong passwords lock the name out; the console's `for=me` honours preferences.
 */
describe('accounts, console sessions and preferences on the API', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedStore;
  let accounts: Accounts;
  let app: FastifyInstance;
  let lanToken: string;
  const ADMIN = 'admin-role-token-000';

  beforeAll(async () => {
    dir = await tempDir('huewatch-accounts-');
    store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log: silentLogger() });
    accounts = createAccounts({
      state: store,
      audit: async (action, account, user, extra = {}) => store.putJson(AUDIT_NAMESPACE, `${Date.now()}:${Math.random()}:${action}`, { action, account, user, ...extra }),
    });
    const unused = <T,>(): T => ({}) as T;
    const opts: ApiOptions = {
      store, state: store, stations: [], feed: unused(), metrics: new Registry(), log: silentLogger(), devices: unused(),
      tokens: [{ name: 'admin', role: 'admin', sha256: sha256Hex(ADMIN) }],
      accounts,
      loginGuard: createLoginGuard({ ...defaultLoginLimits(3), surface: 'http' }),
    };
    app = Fastify({ trustProxy: false });
    await registerApi(app, opts);
    await app.ready();
    lanToken = (await accounts.add({ name: 'lan', displayName: 'Nguyễn Thị Lan', role: 'operator', password: 'song-huong-2026' }, 'test')).token;
    await accounts.add({ name: 'minh', role: 'viewer', password: 'viewer-password-1' }, 'test');
    await store.appendAlertEvent(kimLongAlert(Date.now()));
    await store.appendAlertEvent(kimLongAlert(Date.now(), { id: 'a-rain-1', key: 'heavy-rain:rg-nam-dong', event: { vi: 'Mưa lớn', en: 'Heavy rain' }, area: { name: { vi: 'Nam Đông', en: 'Nam Dong' }, codes: ['nam-dong'] }, source: { station: 'rg-nam-dong', metric: 'rainfall', value: 60, threshold: 50, observedAt: new Date().toISOString() } }));
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await dir?.cleanup();
  });

  const login = (name: string, password: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/api/v1/session', payload: { name, password }, headers });
  const cookieOf = (res: { headers: Record<string, unknown> }) => String(res.headers['set-cookie']).split(';')[0]!;

  it('keeps passwords as salted scrypt hashes and tokens as sha256 only', async () => {
    const rec = (await accounts.get('lan'))!;
    expect(rec.passwordHash).toMatch(new RegExp(`^scrypt\\$${SCRYPT_PARAMS.logN}\\$8\\$1\\$`));
    expect(JSON.stringify(rec)).not.toContain('song-huong-2026');
    expect(JSON.stringify(rec)).not.toContain(lanToken);
    expect(rec.tokens[0]!.sha256).toBe(sha256Hex(lanToken));
    const other = await createAccounts({ state: store }).add({ name: 'lan2', role: 'viewer', password: 'song-huong-2026' }, 'test');
    expect((await accounts.get('lan2'))!.passwordHash).not.toBe(rec.passwordHash); // salted
    expect(other.account.hasPassword).toBe(true);
  });

  it('names the person behind an account token, and keeps the role tokens working', async () => {
    const me = await app.inject({ url: '/api/v1/session', headers: { authorization: `Bearer ${lanToken}` } });
    expect(me.json()).toMatchObject({ name: 'lan', displayName: 'Nguyễn Thị Lan', role: 'operator', kind: 'account-token' });
    expect((await app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${ADMIN}` } })).json().users.map((u: { name: string }) => u.name)).toEqual(['lan', 'lan2', 'minh']);
    expect((await app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${lanToken}` } })).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/v1/users', headers: { authorization: 'Bearer not-a-token' } })).statusCode).toBe(401);
  });

  it('signs in with name and password: an HttpOnly, SameSite=Strict session cookie, Secure behind TLS', async () => {
    const res = await login('lan', 'song-huong-2026');
    expect(res.statusCode).toBe(201);
    const set = String(res.headers['set-cookie']);
    expect(set).toMatch(/^huewatch_session=[A-Za-z0-9_-]{40,};/);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/');
    expect(set).not.toContain('Secure');
    expect(res.json()).toMatchObject({ name: 'lan', role: 'operator', csrf: expect.any(String) });
    const tls = await login('lan', 'song-huong-2026', { 'x-forwarded-proto': 'https' });
    expect(String(tls.headers['set-cookie'])).toContain('Secure');
    const who = await app.inject({ url: '/api/v1/session', headers: { cookie: cookieOf(res) } });
    expect(who.json()).toMatchObject({ name: 'lan', kind: 'session', csrf: res.json().csrf });
  });

  it('refuses a cookie-authenticated change without the CSRF header or from another origin; bearer requests need neither', async () => {
    const res = await login('lan', 'song-huong-2026');
    const cookie = cookieOf(res);
    const { csrf } = res.json() as { csrf: string };
    const prefs = (await app.inject({ url: '/api/v1/me/preferences', headers: { cookie } })).json();
    expect(prefs.channels.console).toEqual({ enabled: true, hazards: [], areas: [] });
    const put = (headers: Record<string, string>) => app.inject({ method: 'PUT', url: '/api/v1/me/preferences', payload: prefs, headers: { host: 'localhost:80', ...headers } });
    expect((await put({ cookie })).statusCode).toBe(403);
    expect((await put({ cookie, 'x-huewatch-csrf': 'wrong' })).statusCode).toBe(403);
    expect((await put({ cookie, 'x-huewatch-csrf': csrf, origin: 'https://evil.example' })).statusCode).toBe(403);
    expect((await put({ cookie, 'x-huewatch-csrf': csrf, origin: 'http://localhost:80' })).statusCode).toBe(200);
    expect((await put({ authorization: `Bearer ${lanToken}` })).statusCode).toBe(200);
  });

  it('shows the console only the hazards and areas the person chose, and tells the e-mail flow who wants an alert', async () => {
    const auth = { authorization: `Bearer ${lanToken}` };
    const prefs = {
      channels: {
        console: { enabled: true, hazards: ['flood'], areas: [] },
        webpush: { enabled: false, hazards: [], areas: [] },
        email: { enabled: true, hazards: [], areas: ['nam-dong'] },
        sms: { enabled: false, hazards: [], areas: [] },
      },
      email: 'lan@ioc.example',
    };
    expect((await app.inject({ method: 'PUT', url: '/api/v1/me/preferences', payload: prefs, headers: auth })).statusCode).toBe(200);
    const bad = await app.inject({ method: 'PUT', url: '/api/v1/me/preferences', payload: { ...prefs, channels: { ...prefs.channels, sms: { enabled: true, hazards: ['tsunami'] } } }, headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/channels\.sms\.hazards/);
    const mine = await app.inject({ url: '/api/v1/alerts?status=active&for=me', headers: auth });
    expect(mine.json().alerts.map((a: { id: string }) => a.id)).toEqual(['a-kim-long-1']);
    const all = await app.inject({ url: '/api/v1/alerts?status=active', headers: auth });
    expect(all.json().alerts).toHaveLength(2);
    const admin = { authorization: `Bearer ${ADMIN}` };
    expect((await app.inject({ url: '/api/v1/alerts/a-rain-1/recipients?channel=email', headers: admin })).json().recipients).toEqual([{ name: 'lan', displayName: 'Nguyễn Thị Lan', email: 'lan@ioc.example' }]);
    expect((await app.inject({ url: '/api/v1/alerts/a-kim-long-1/recipients?channel=email', headers: admin })).json().recipients).toEqual([]);
  });

  it('locks a name out after repeated wrong passwords, even for the right one, and audits the failures', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i++) statuses.push((await login('minh', `wrong-password-${i}`)).statusCode);
    expect(statuses[0]).toBe(401);
    expect(statuses.at(-1)).toBe(429);
    const right = await login('minh', 'viewer-password-1');
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    const audit = (await store.listJson<{ action: string; account: string }>(AUDIT_NAMESPACE)).map((e) => e.value).filter((e) => e.account === 'minh');
    expect(audit.filter((e) => e.action === 'session.failed').length).toBe(statuses.filter((s) => s === 401).length);
    expect(audit.some((e) => e.action === 'session.refused')).toBe(true);
    // another name from the same address is not locked out (the address has more room than a name)
    expect((await login('lan', 'song-huong-2026')).statusCode).toBe(201);
  });

  it('ends the session on sign-out, and refuses disabled accounts', async () => {
    const res = await login('lan', 'song-huong-2026');
    const cookie = cookieOf(res);
    const out = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie, 'x-huewatch-csrf': res.json().csrf } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^huewatch_session=; .*Max-Age=0/);
    expect((await app.inject({ url: '/api/v1/session', headers: { cookie } })).statusCode).toBe(401);
    await accounts.disable('lan2', 'test');
    expect((await login('lan2', 'song-huong-2026')).statusCode).toBe(401);
  });
});
