import type { Logger } from 'pino';
import webpush from 'web-push';
import type { AlertEvent } from '../contract/alert.ts';
import { wants, type Accounts } from '../store/accounts.ts';
import type { StateStore } from '../store/types.ts';
import type { DeliveryMetrics } from './metrics.ts';
import { createOutbox, type OutboxEntry, type SendResult } from './outbox.ts';
import type { AlertSource } from './source.ts';
import { pushPayload, subscriptionId, type PushSubscription, type VapidKeys } from './webpush.ts';

/**
 * Web Push to operators' browsers (#14.4), apart from the residents' (delivery/webpush.ts): a
 * subscription belongs to a signed-in account (PUT /api/v1/me/push-subscription), and an alert
 * event is pushed to it only when the account, enabled and not a viewer, wants it by `webpush`
 * (its preferences, store/accounts.ts). Alerts for operators only are pushed here too: only
 * accounts have subscriptions. Preferences are read at each event, so a change counts at once.
 */
export const OPERATOR_SUBSCRIPTIONS_NAMESPACE = 'operator-push-subscriptions';
export const OPERATOR_OUTBOX_NAMESPACE = 'operator-push-outbox';
const REQUEST_TIMEOUT_MS = 10_000;

export interface OperatorSubscription {
  account: string;
  subscription: PushSubscription;
  createdAt: string;
}

interface Item {
  subscription: string;
  payload: string;
  urgency: 'high' | 'normal';
  ttlS: number;
  sent: string;
}

export interface OperatorPushOptions {
  vapid: VapidKeys;
  source: AlertSource;
  accounts: Pick<Accounts, 'get'>;
  state: Pick<StateStore, 'putJson' | 'deleteJson' | 'writeJsonBatch' | 'listJson'>;
  log: Logger;
  metrics?: DeliveryMetrics;
  clock?: { now(): number };
}

export function createOperatorPush(opts: OperatorPushOptions) {
  const clock = opts.clock ?? Date;
  const log = opts.log.child({ module: 'operator-push' });
  const subs = new Map<string, OperatorSubscription>();
  let unsubscribe: (() => void) | undefined;
  let deciding: Promise<void> = Promise.resolve();

  async function send(entry: OutboxEntry<Item>): Promise<SendResult> {
    const stored = subs.get(entry.item.subscription);
    if (!stored) return { ok: false, retry: false, gone: true, error: 'unsubscribed' };
    const req = webpush.generateRequestDetails(stored.subscription, entry.item.payload, { vapidDetails: opts.vapid, contentEncoding: 'aes128gcm', TTL: entry.item.ttlS, urgency: entry.item.urgency });
    try {
      const res = await fetch(req.endpoint, { method: req.method, headers: req.headers as Record<string, string>, body: req.body ?? null, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await res.body?.cancel();
      if (res.ok) return { ok: true };
      if (res.status === 404 || res.status === 410) return { ok: false, retry: false, gone: true, error: `HTTP ${res.status}` };
      return { ok: false, retry: res.status >= 500 || res.status === 429 || res.status === 408, error: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, retry: true, error: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
    }
  }

  const outbox = createOutbox<Item>({
    state: opts.state,
    namespace: OPERATOR_OUTBOX_NAMESPACE,
    log,
    backoff: { maxAttempts: 8 },
    concurrency: 8,
    clock,
    send,
    onDelivered: (e) => opts.metrics?.delivered('webpush', { sent: e.item.sent }),
    onGiveUp: async () => opts.metrics?.failed('webpush', 'gave_up'),
    onGone: async (lane) => {
      await opts.state.deleteJson(OPERATOR_SUBSCRIPTIONS_NAMESPACE, lane);
      subs.delete(lane);
    },
  });

  async function onEvent(event: AlertEvent): Promise<void> {
    const ttlS = event.expires ? Math.max(60, Math.round((Date.parse(event.expires) - clock.now()) / 1000)) : 24 * 3600;
    const urgency = event.severity === 'Extreme' || event.severity === 'Severe' || event.msgType === 'Alert' ? 'high' : 'normal';
    const payload = pushPayload(event);
    const decided = new Map<string, boolean>();
    for (const [id, s] of subs) {
      if (!decided.has(s.account)) {
        const a = await opts.accounts.get(s.account);
        decided.set(s.account, a !== undefined && !a.disabled && a.role !== 'viewer' && wants(a.preferences, 'webpush', event));
      }
      if (decided.get(s.account)) await outbox.enqueue(id, { subscription: id, payload, urgency, ttlS, sent: event.sent });
    }
  }

  return {
    async start() {
      for (const { key, value } of await opts.state.listJson<OperatorSubscription>(OPERATOR_SUBSCRIPTIONS_NAMESPACE)) subs.set(key, value);
      await outbox.start();
      // one event after the other: an alert's events reach the outbox in the order they came
      unsubscribe = opts.source.subscribe(({ event }) => {
        deciding = deciding.then(() => onEvent(event)).catch((err: unknown) => log.error({ err, id: event.id }, 'could not queue an operator push'));
      });
    },
    async stop() {
      unsubscribe?.();
      await outbox.stop();
    },
    async subscribe(account: string, subscription: PushSubscription): Promise<string> {
      const id = subscriptionId(subscription.endpoint);
      const stored: OperatorSubscription = { account, subscription, createdAt: new Date(clock.now()).toISOString() };
      await opts.state.putJson(OPERATOR_SUBSCRIPTIONS_NAMESPACE, id, stored);
      subs.set(id, stored);
      return id;
    },
    /** only the account's own subscription is removed */
    async unsubscribe(account: string, endpoint: string): Promise<boolean> {
      const id = subscriptionId(endpoint);
      if (subs.get(id)?.account !== account) return false;
      subs.delete(id);
      await opts.state.deleteJson(OPERATOR_SUBSCRIPTIONS_NAMESPACE, id);
      return true;
    },
    get publicKey() {
      return opts.vapid.publicKey;
    },
    get subscriptions() {
      return subs.size;
    },
    get pending() {
      return outbox.pending;
    },
    /** resolves once every event so far has been matched against the preferences (and queued) */
    settled(): Promise<void> {
      return deciding;
    },
  };
}
export type OperatorPush = ReturnType<typeof createOperatorPush>;
