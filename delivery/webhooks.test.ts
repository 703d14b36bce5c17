import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearerAuth, sha256Hex } from '../api/auth.ts';
import { installErrorHandler } from '../api/errors.ts';
import { webhookRoutes } from '../api/routes/webhooks.ts';
import type { AlertEvent } from '../contract/alert.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert, kimLongCancel, kimLongUpdate } from '../test/alert-fixtures.ts';
import { tempDir, waitFor } from '../test/helpers.ts';
import { createDeliveryMetrics } from './metrics.ts';
import type { AlertSource } from './source.ts';
import { createWebhookDelivery, OUTBOX_NAMESPACE, type WebhookEndpoint } from './webhooks.ts';

const SECRET = 'whsec-partner-0123456789abcdef';
const log = silentLogger();

/** The feed's interface over a plain emitter: the test decides when an event happens. */
function testSource() {
  const em = new EventEmitter();
  const source: AlertSource = { subscribe: (l) => (em.on('e', l), () => em.off('e', l)) };
  return { source, emit: (event: AlertEvent) => em.emit('e', { event }) };
}

interface Received {
  body: string;
  signature: string;
  eventHeader: string;
}

/** A receiver as a partner would write it: verifies the signature with node:crypto only. */
function verifyAsReceiver(secret: string, header: string, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  if (Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
  const mac = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(mac, Buffer.from(m[2]!, 'hex'));
}

async function startReceiver(port = 0, status = () => 204) {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-huewatch-signature']), eventHeader: String(req.headers['x-huewatch-event']) });
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { received, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('webhook delivery', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedStore;
  const file = () => join(dir.dir, 'state.duckdb');
  const T0 = Date.now() - 60_000;
  const a1 = kimLongAlert(T0);
  const a2 = kimLongUpdate(a1, T0 + 10_000);
  const a3 = kimLongCancel(a2, T0 + 20_000);
  const b1 = kimLongAlert(T0 + 5_000, { id: 'a-phu-oc-1', key: 'flood:phu-oc', area: { ...a1.area, codes: ['phu-oc'] } });

  beforeEach(async () => {
    dir = await tempDir('huewatch-webhooks-');
    store = await openEmbeddedStore({ file: file(), log });
  });
  afterEach(async () => {
    await store?.close();
    await dir?.cleanup();
  });

  it('posts each alert event as JSON with a signature the receiver can verify', async () => {
    const receiver = await startReceiver();
    const { source, emit } = testSource();
    const registry = new Registry();
    const endpoints: WebhookEndpoint[] = [{ name: 'partner', url: `http://127.0.0.1:${receiver.port}/hooks`, secret: SECRET }];
    const delivery = createWebhookDelivery({ endpoints, source, state: store, log, metrics: createDeliveryMetrics(registry) });
    await delivery.start();
    emit(a1);
    await waitFor(() => receiver.received.length === 1, 3000, 'the webhook');
    const got = receiver.received[0]!;
    expect(JSON.parse(got.body)).toEqual(a1);
    expect(got.eventHeader).toBe(`${a1.id}:1`);
    expect(verifyAsReceiver(SECRET, got.signature, got.body)).toBe(true);
    expect(verifyAsReceiver(SECRET, got.signature, got.body.replace('1.2', '9.9'))).toBe(false);
    expect(verifyAsReceiver('another-secret-0123456789', got.signature, got.body)).toBe(false);
    await waitFor(() => delivery.pending === 0, 2000, 'the outbox to empty');
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.find((m) => m.name === 'huewatch_delivery_sent_total')?.values).toEqual([{ labels: { channel: 'webhook' }, value: 1 }]);
    await delivery.stop();
    await receiver.close();
  });

  it('delivers every event, in order and once, to a receiver that was down across a restart of the sender', async () => {
    const port = await freePort(); // nothing listens here yet: connection refused
    const endpoints: WebhookEndpoint[] = [{ name: 'partner', url: `http://127.0.0.1:${port}/hooks`, secret: SECRET }];
    const backoff = { baseMs: 40, maxMs: 150, maxAttempts: 10_000 };
    const first = testSource();
    let delivery = createWebhookDelivery({ endpoints, source: first.source, state: store, log, backoff });
    await delivery.start();
    for (const e of [a1, b1, a2, a3]) first.emit(e);
    await waitFor(async () => (await store.listJson<{ attempts: number }>(OUTBOX_NAMESPACE)).some((r) => r.value.attempts >= 2), 3000, 'failed attempts');
    await delivery.stop();
    await store.close();

    // The sender restarts on the same data; the receiver comes back a little later.
    store = await openEmbeddedStore({ file: file(), log });
    expect((await store.listJson(OUTBOX_NAMESPACE)).length).toBe(4);
    const second = testSource();
    delivery = createWebhookDelivery({ endpoints, source: second.source, state: store, log, backoff });
    await delivery.start();
    await new Promise((r) => setTimeout(r, 200));
    const receiver = await startReceiver(port);
    await waitFor(() => receiver.received.length >= 4, 5000, 'the backlog');
    await waitFor(() => delivery.pending === 0, 2000, 'an empty outbox');
    const after = kimLongAlert(T0 + 30_000, { id: 'a-kim-long-2' });
    second.emit(after);
    await waitFor(() => receiver.received.length >= 5, 3000, 'a new event after the backlog');
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.received.map((r) => r.eventHeader)).toEqual(['a-kim-long-1:1', 'a-phu-oc-1:1', 'a-kim-long-1:2', 'a-kim-long-1:3', 'a-kim-long-2:1']);
    expect(receiver.received.every((r) => verifyAsReceiver(SECRET, r.signature, r.body))).toBe(true);
    expect(await store.listJson(OUTBOX_NAMESPACE)).toEqual([]);
    await delivery.stop();
    await receiver.close();
  });

  it('dead-letters what a receiver refuses, and shows the list to admins only', async () => {
    const receiver = await startReceiver(0, () => 400);
    const { source, emit } = testSource();
    const endpoints: WebhookEndpoint[] = [
      { name: 'strict', url: `http://127.0.0.1:${receiver.port}/hooks`, secret: SECRET },
      { name: 'elsewhere', url: `http://127.0.0.1:${receiver.port}/other`, secret: SECRET, areas: ['phu-oc'] },
    ];
    const delivery = createWebhookDelivery({ endpoints, source, state: store, log, backoff: { baseMs: 20, maxMs: 50, maxAttempts: 3 } });
    await delivery.start();
    emit(a1);
    await waitFor(() => delivery.pending === 0 && receiver.received.length === 1, 3000, 'the refusal');
    await delivery.stop();
    await receiver.close();

    const app = Fastify();
    installErrorHandler(app);
    const requireRole = bearerAuth([{ name: 'root', role: 'admin', sha256: sha256Hex('admin-token') }, { name: 'ioc', role: 'operator', sha256: sha256Hex('operator-token') }]);
    await app.register(async (scope) => webhookRoutes(scope, { state: store, requireRole }));
    const asAdmin = await app.inject({ url: '/api/v1/webhooks/dead-letters', headers: { authorization: 'Bearer admin-token' } });
    expect(asAdmin.statusCode).toBe(200);
    expect(asAdmin.json().deadLetters).toEqual([expect.objectContaining({ endpoint: 'strict', alertId: a1.id, eventSeq: 1, attempts: 1, lastError: 'HTTP 400', event: a1 })]);
    const asOperator = await app.inject({ url: '/api/v1/webhooks/dead-letters', headers: { authorization: 'Bearer operator-token' } });
    expect(asOperator.statusCode).toBe(403);
    expect(asOperator.json().code).toBe('HW_ERR_NOT_AUTHORIZED');
    await app.close();
  });

  it('posts an alert for operators only to an endpoint that names `operators` in its areas, and to no partner', async () => {
    const receiver = await startReceiver();
    const { source, emit } = testSource();
    const endpoints: WebhookEndpoint[] = [
      { name: 'partner', url: `http://127.0.0.1:${receiver.port}/partner`, secret: SECRET },
      { name: 'kim-long-partner', url: `http://127.0.0.1:${receiver.port}/kim-long`, secret: SECRET, areas: ['kim-long'] },
      { name: 'ioc-tickets', url: `http://127.0.0.1:${receiver.port}/ioc`, secret: SECRET, areas: ['operators'] },
    ];
    const delivery = createWebhookDelivery({ endpoints, source, state: store, log });
    await delivery.start();
    const fault = kimLongAlert(T0, { id: 'a-fault-1', key: 'sensor-fault:kim-long', area: { ...a1.area, codes: ['operators'] } });
    emit(fault);
    emit(a1); // after the fault in every lane: once the partners have it, they would have had the fault
    const flood = () => receiver.received.filter((r) => r.eventHeader === `${a1.id}:1`).length;
    await waitFor(() => delivery.pending === 0 && flood() === 2, 3000, 'the flood alert at both partners');
    expect(receiver.received.map((r) => r.eventHeader).sort()).toEqual([`${fault.id}:1`, `${a1.id}:1`, `${a1.id}:1`]);
    expect(receiver.received.filter((r) => r.eventHeader === `${fault.id}:1`).map((r) => JSON.parse(r.body).key)).toEqual(['sensor-fault:kim-long']);
    await delivery.stop();
    await receiver.close();
  });
});
