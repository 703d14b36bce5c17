import { createECDH, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { OPERATORS_AREA } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import { createAccounts, DEFAULT_PREFERENCES, type Accounts } from '../store/accounts.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert } from '../test/alert-fixtures.ts';
import { tempDir, waitFor } from '../test/helpers.ts';
import { createOperatorPush, type OperatorPush } from './operator-push.ts';
import type { AlertSource } from './source.ts';

/**
 * Web Push to operators honours each account's preferences (#14.4): a real push endpoint over
 * HTTP (it counts the encrypted requests per subscription), the real embedded store.
 */
describe('Web Push to operators, by their preferences', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedStore;
  let accounts: Accounts;
  let push: OperatorPush;
  let server: Server;
  let base: string;
  const received = new Map<string, number>();
  const em = new EventEmitter();
  const source: AlertSource = { subscribe: (l) => (em.on('e', l), () => em.off('e', l)) };
  const emit = (event: AlertEvent) => em.emit('e', { event });

  const subscription = (who: string) => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return { endpoint: `${base}/push/${who}`, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const who = req.url!.split('/').pop()!;
        received.set(who, (received.get(who) ?? 0) + 1);
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await tempDir('huewatch-opush-');
    store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log: silentLogger() });
    accounts = createAccounts({ state: store });
    push = createOperatorPush({ vapid: { ...webpush.generateVAPIDKeys(), subject: 'mailto:ioc@example.org' }, source, accounts, state: store, log: silentLogger() });
    await push.start();
    const floodsOfKimLong = { ...DEFAULT_PREFERENCES, channels: { ...DEFAULT_PREFERENCES.channels, webpush: { enabled: true, hazards: ['flood' as const], areas: ['kim-long'] } } };
    for (const [name, role] of [['lan', 'operator'], ['minh', 'viewer'], ['hoa', 'operator'], ['son', 'operator']] as const) {
      await accounts.add({ name, role, password: 'a-long-password' }, 'test');
      await push.subscribe(name, subscription(name));
    }
    for (const name of ['lan', 'minh', 'son']) await accounts.setPreferences(name, floodsOfKimLong, 'test');
    await accounts.disable('son', 'test');
    // hoa keeps the default: Web Push off
  }, 60_000);
  afterAll(async () => {
    await push?.stop();
    await store?.close();
    await dir?.cleanup();
    server?.close();
  });

  it('pushes a Kim Long flood alert only to the enabled operator who chose floods there', async () => {
    emit(kimLongAlert(Date.now()));
    await waitFor(() => received.get('lan') === 1, 10_000, 'the push to lan');
    // the others had the same chance: wait until nothing is left to send
    await push.settled();
    await waitFor(() => push.pending === 0, 10_000, 'the outbox drained');
    expect(Object.fromEntries(received)).toEqual({ lan: 1 });
  });

  it('does not push a rain alert, nor one for another area; does push a flood alert for operators only', async () => {
    emit(kimLongAlert(Date.now(), { id: 'rain-1', key: 'heavy-rain:rg-hue', event: { vi: 'Mưa lớn', en: 'Heavy rain' } }));
    emit(kimLongAlert(Date.now(), { id: 'flood-phu-oc', key: 'flood:phu-oc', area: { name: { vi: 'Phú Ốc', en: 'Phu Oc' }, codes: ['phu-oc'] } }));
    emit(kimLongAlert(Date.now(), { id: 'gauge-fault', area: { name: { vi: 'Kim Long', en: 'Kim Long' }, codes: ['kim-long', OPERATORS_AREA] } }));
    await waitFor(() => received.get('lan') === 2, 10_000, 'the operators-only push to lan');
    await push.settled();
    await waitFor(() => push.pending === 0, 10_000, 'the outbox drained');
    expect(Object.fromEntries(received)).toEqual({ lan: 2 });
  });

  it('follows a change of preferences at once, and an unsubscribed browser gets nothing', async () => {
    await accounts.setPreferences('hoa', { ...DEFAULT_PREFERENCES, channels: { ...DEFAULT_PREFERENCES.channels, webpush: { enabled: true, hazards: [], areas: [] } } }, 'test');
    expect(await push.unsubscribe('hoa', `${base}/push/lan`)).toBe(false); // not hers
    expect(await push.unsubscribe('lan', `${base}/push/lan`)).toBe(true);
    emit(kimLongAlert(Date.now(), { id: 'a-kim-long-2' }));
    await waitFor(() => received.get('hoa') === 1, 10_000, 'the push to hoa');
    await push.settled();
    await waitFor(() => push.pending === 0, 10_000, 'the outbox drained');
    expect(Object.fromEntries(received)).toEqual({ lan: 2, hoa: 1 });
  });
});
