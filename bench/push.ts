/**
 * Web Push fan-out bench: `node --import tsx bench/push.ts [subscriptions]` (default 5,000).
 * Figures to compare between runs, never pass/fail; one `name value unit` line each.
 *
 * N browser subscriptions for Kim Long are stored through the real delivery (api/routes/push.ts
 * does the same), on the real embedded state store (DuckDB file in a temp folder). One alert is
 * emitted; the clock runs until a local push service on loopback (a plain HTTP server answering
 * 201, as FCM/Mozilla do) has received every encrypted, VAPID-signed push, and until the outbox
 * is empty (every entry deleted: nothing would be sent again after a restart).
 */
import { createECDH, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertEvent } from '../contract/alert.ts';
import type { AlertSource } from '../delivery/source.ts';
import { createWebPushDelivery, loadOrCreateVapidKeys } from '../delivery/webpush.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert } from '../test/alert-fixtures.ts';
import { countArg, print } from './report.ts';

const DEFAULT_SUBSCRIPTIONS = 5_000;
const MAX_SUBSCRIPTIONS = 200_000;
/** the run is cut short past this */
const DEADLINE_MS = 600_000;


async function main(): Promise<void> {
  const n = countArg('subscriptions', process.argv[2], DEFAULT_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS);
  const dir = await mkdtemp(join(tmpdir(), 'huewatch-bench-push-'));
  const log = silentLogger();
  const store = await openEmbeddedStore({ file: join(dir, 'state.duckdb'), log });
  let received = 0;
  let lastAt = 0;
  const service = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      lastAt = performance.now();
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
  const em = new EventEmitter();
  const source: AlertSource = { subscribe: (l) => (em.on('e', l), () => em.off('e', l)) };
  const vapid = await loadOrCreateVapidKeys({ env: {}, dataDir: dir, production: false });
  const push = createWebPushDelivery({ vapid, source, state: store, log });
  await push.start();
  try {
    let t = performance.now();
    for (let i = 0; i < n; i++) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      await push.subscribe({ endpoint: `${origin}/push/${i}`, expirationTime: null, keys: { p256dh: ecdh.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') } }, ['kim-long']);
    }
    print('subscriptions stored, one request each', n / ((performance.now() - t) / 1000), 'subscriptions/s');

    const deadline = Date.now() + DEADLINE_MS;
    const event: AlertEvent = kimLongAlert(Date.now());
    t = performance.now();
    em.emit('e', { event });
    while (received < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const lastMs = lastAt - t;
    while (push.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const drainedMs = performance.now() - t;
    if (received < n) process.stdout.write(`# deadline passed: ${received} of ${n} pushes received\n`);
    print(`one alert to ${n} subscriptions: last push received`, lastMs, 'ms');
    print('  pushes per second', received / (lastMs / 1000), 'pushes/s');
    print('  outbox empty (every entry deleted) after', drainedMs, 'ms');
  } finally {
    await push.stop();
    await store.close();
    await new Promise<void>((r) => service.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
