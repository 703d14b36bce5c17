import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { AlertEvent } from '../contract/alert.ts';
import { ID_PATTERN, isOperatorsOnly, OPERATORS_AREA } from '../contract/topics.ts';
import type { StateStore } from '../store/types.ts';
import type { DeliveryMetrics } from './metrics.ts';
import { createOutbox, type Backoff, type OutboxEntry, type SendResult } from './outbox.ts';
import type { AlertSource } from './source.ts';

/**
 * Webhooks: every alert event POSTed as JSON to each configured endpoint, signed the way Stripe
 * signs its webhooks (a timestamp in the signed string stops replays):
 * `X-HueWatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * Deliveries wait in a durable outbox, in order per endpoint, with backoff; what is given up on
 * goes to a dead-letter list the API shows to admins.
 *
 * Endpoints are partners (public bodies, media, apps), so an alert for operators only
 * (contract/topics.ts OPERATORS_AREA) goes only to an endpoint whose `areas` name `operators`: an
 * operator integration (e.g. the IOC's ticketing system) the admin configured as one on purpose.
 */

export const SIGNATURE_HEADER = 'x-huewatch-signature';
export const OUTBOX_NAMESPACE = 'webhook-outbox';
export const DEAD_LETTER_NAMESPACE = 'webhook-dead-letters';
/** a receiver that takes longer than this is treated as down (and retried) */
const REQUEST_TIMEOUT_MS = 10_000;

const endpointSchema = z
  .object({
    name: z.string().regex(ID_PATTERN),
    url: z.url({ protocol: /^https?$/ }),
    /** the shared secret itself (tests, development) … */
    secret: z.string().min(16).optional(),
    /** … or, in a committed file, the name of the environment variable holding it */
    secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    /** only events for these area codes; absent = every public one. `operators` (named here) also brings alerts for operators only */
    areas: z.array(z.string()).min(1).optional(),
  })
  .refine((e) => (e.secret === undefined) !== (e.secretEnv === undefined), { message: 'give exactly one of secret and secretEnv' });
export const webhooksFileSchema = z.object({ endpoints: z.array(endpointSchema) });

export interface WebhookEndpoint {
  name: string;
  url: string;
  secret: string;
  areas?: string[];
}

/**
 * Endpoints from a YAML/JSON file (`WEBHOOKS_FILE`): secrets by env name, so the file can be
 * committed. Every problem is listed with its path.
 */
export function loadWebhookEndpoints(file: string, env: Record<string, string | undefined> = process.env): WebhookEndpoint[] {
  const parsed = webhooksFileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')));
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const endpoints: WebhookEndpoint[] = [];
  for (const [i, e] of (parsed.success ? parsed.data.endpoints : []).entries()) {
    const secret = e.secret ?? env[e.secretEnv!];
    if (!secret || secret.length < 16) problems.push(`endpoints.${i}.secretEnv: ${e.secretEnv} is not set to a secret of at least 16 characters`);
    else endpoints.push({ name: e.name, url: e.url, secret, ...(e.areas ? { areas: e.areas } : {}) });
  }
  if (problems.length > 0) throw new Error(`${file}: invalid webhooks:\n  ${problems.join('\n  ')}`);
  return endpoints;
}

export function signWebhook(secret: string, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/** For receivers written in TypeScript: true when the header matches and is at most `toleranceS` old. */
export function verifyWebhook(secret: string, header: string, body: string, nowS = Math.floor(Date.now() / 1000), toleranceS = 300): boolean {
  const parts = new Map(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowS - t) > toleranceS || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const want = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(want, Buffer.from(v1, 'hex'));
}

interface WebhookItem {
  endpoint: string;
  event: AlertEvent;
}

export interface DeadLetter {
  key: string;
  endpoint: string;
  alertId: string;
  eventSeq: number;
  attempts: number;
  lastError: string;
  enqueuedAt: string;
  gaveUpAt: string;
  event: AlertEvent;
}

export interface WebhookDeliveryOptions {
  endpoints: readonly WebhookEndpoint[];
  source: AlertSource;
  state: Pick<StateStore, 'putJson' | 'writeJsonBatch' | 'listJson'>;
  log: Logger;
  metrics?: DeliveryMetrics;
  backoff?: Partial<Backoff>;
  clock?: { now(): number };
}

export function createWebhookDelivery(opts: WebhookDeliveryOptions) {
  const clock = opts.clock ?? Date;
  const log = opts.log.child({ module: 'webhooks' });
  const byName = new Map(opts.endpoints.map((e) => [e.name, e]));
  let unsubscribe: (() => void) | undefined;

  async function send(entry: OutboxEntry<WebhookItem>): Promise<SendResult> {
    const ep = byName.get(entry.item.endpoint);
    if (!ep) return { ok: false, retry: false, error: `endpoint ${entry.item.endpoint} is no longer configured` };
    const body = JSON.stringify(entry.item.event);
    const t = Math.floor(clock.now() / 1000); // signed per attempt: a retry is not a stale replay
    try {
      const res = await fetch(ep.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'HueWatch-Webhooks/1',
          [SIGNATURE_HEADER]: signWebhook(ep.secret, t, body),
          // receivers deduplicate on this: a retry after a lost response sends the same event again
          'x-huewatch-event': `${entry.item.event.id}:${entry.item.event.eventSeq}`,
        },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.ok) return { ok: true };
      // 408 and 429 say "later"; other 4xx will not change by retrying (RFC 9110 §15.5)
      const retry = res.status >= 500 || res.status === 408 || res.status === 429;
      if (retry) opts.metrics?.failed('webhook', 'retry'); // a refusal is counted once, as gave_up
      return { ok: false, retry, error: `HTTP ${res.status}` };
    } catch (err) {
      opts.metrics?.failed('webhook', 'retry');
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { ok: false, retry: true, error: cause ?? (err as Error).message };
    }
  }

  const outbox = createOutbox<WebhookItem>({
    state: opts.state,
    namespace: OUTBOX_NAMESPACE,
    log,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
    concurrency: 8,
    clock,
    send,
    onDelivered: (entry) => opts.metrics?.delivered('webhook', entry.item.event),
    onGiveUp: async (entry, error) => {
      opts.metrics?.failed('webhook', 'gave_up');
      const dead: DeadLetter = {
        key: entry.key,
        endpoint: entry.item.endpoint,
        alertId: entry.item.event.id,
        eventSeq: entry.item.event.eventSeq,
        attempts: entry.attempts,
        lastError: error,
        enqueuedAt: new Date(entry.enqueuedAt).toISOString(),
        gaveUpAt: new Date(clock.now()).toISOString(),
        event: entry.item.event,
      };
      await opts.state.putJson(DEAD_LETTER_NAMESPACE, entry.key, dead);
    },
  });

  function onEvent({ event }: { event: AlertEvent }) {
    const forOperators = isOperatorsOnly(event);
    for (const ep of opts.endpoints) {
      if (forOperators ? !ep.areas?.includes(OPERATORS_AREA) : ep.areas && !event.area.codes.some((c) => ep.areas!.includes(c))) continue;
      outbox.enqueue(ep.name, { endpoint: ep.name, event }).catch((err: unknown) => log.error({ err, endpoint: ep.name, id: event.id }, 'could not queue a webhook'));
    }
  }

  return {
    async start() {
      await outbox.start();
      unsubscribe = opts.source.subscribe(onEvent);
    },
    async stop() {
      unsubscribe?.();
      await outbox.stop();
    },
    get pending() {
      return outbox.pending;
    },
  };
}
export type WebhookDelivery = ReturnType<typeof createWebhookDelivery>;

export async function listDeadLetters(state: Pick<StateStore, 'listJson'>): Promise<DeadLetter[]> {
  return (await state.listJson<DeadLetter>(DEAD_LETTER_NAMESPACE)).map((r) => r.value);
}
