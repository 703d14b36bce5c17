import { createHash } from 'node:crypto';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import webpush from 'web-push';
import { z } from 'zod';
import { severity, type AlertEvent } from '../contract/alert.ts';
import { hazard, hazardOf, severityRank, type Hazard } from '../contract/hazard.ts';
import { ID_PATTERN, isOperatorsOnly, OPERATORS_AREA } from '../contract/topics.ts';
import type { ResidentArea } from '../lib/resident-areas.ts';
import type { StateStore } from '../store/types.ts';
import type { DeliveryMetrics } from './metrics.ts';
import { createOutbox, type Backoff, type OutboxEntry, type SendResult } from './outbox.ts';
import type { AlertSource } from './source.ts';

/**
 * Web Push (RFC 8030) to residents' browsers: each alert event for an area goes to every push
 * subscription registered for that area, encrypted with aes128gcm (RFC 8291) and signed with our
 * VAPID key (RFC 8292). web-push builds each request (encryption, JWT); it is sent with fetch so it
 * shares the outbox, timeouts and retry code of the other channels (web-push's own sender speaks
 * https only). A push service answering 404/410 says the subscription is gone: it is removed.
 * Alerts for operators only (contract/topics.ts OPERATORS_AREA) are never pushed: every push
 * subscription is a resident's browser, registered without a token.
 *
 * Each subscription carries the resident's choices: areas (districts of the station catalogue,
 * lib/resident-areas.ts, or single alert area codes), hazards (contract/hazard.ts), a minimum
 * severity and a language; an alert event is pushed only when it matches all of them, with its
 * texts in that language. Choices are changed by whoever holds the subscription's endpoint and
 * keys (the browser), never by a token.
 */

export const SUBSCRIPTIONS_NAMESPACE = 'push-subscriptions';
export const OUTBOX_NAMESPACE = 'push-outbox';
const REQUEST_TIMEOUT_MS = 10_000;
/** Push services accept ~4 KiB of payload (RFC 8291 §4 leaves 3993 bytes of plaintext in one record) */
const MAX_TEXT = 600;

const b64url = z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/);
export const pushSubscriptionSchema = z.object({
  endpoint: z.url({ protocol: /^https?$/ }),
  expirationTime: z.number().nullable().optional(),
  keys: z.object({ p256dh: b64url, auth: b64url }),
});
export const pushLanguage = z.enum(['vi', 'en']);
export type PushLanguage = z.infer<typeof pushLanguage>;
/** What a resident chooses to hear; absent fields of an older subscription mean "everything, in Vietnamese". */
export const pushPreferencesSchema = z.object({
  areas: z.array(z.string().regex(ID_PATTERN, 'an area code (letters, digits, "-", "_", ".")').refine((a) => a !== OPERATORS_AREA, { message: `"${OPERATORS_AREA}" is not a residents' area: its alerts are for the operations centre only` })).min(1).max(50),
  hazards: z.array(hazard).min(1).max(hazard.options.length).default([...hazard.options]),
  minSeverity: severity.default('Unknown'),
  lang: pushLanguage.default('vi'),
});
export type PushPreferences = z.infer<typeof pushPreferencesSchema>;
export const subscribeBodySchema = pushPreferencesSchema.extend({ subscription: pushSubscriptionSchema });
export type PushSubscription = z.infer<typeof pushSubscriptionSchema>;
/** A browser proves it holds a subscription by its endpoint and keys (both only it and we know). */
export const subscriptionProofSchema = z.object({ endpoint: z.url({ protocol: /^https?$/ }), keys: z.object({ p256dh: b64url, auth: b64url }) });
export type SubscriptionProof = z.infer<typeof subscriptionProofSchema>;

export interface StoredSubscription {
  subscription: PushSubscription;
  areas: string[];
  hazards?: Hazard[];
  minSeverity?: PushPreferences['minSeverity'];
  lang?: PushLanguage;
  createdAt: string;
  updatedAt?: string;
}

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** RFC 8292 §2.1 `sub`: a mailto: or https: contact for the push service's operator */
  subject: string;
}

/**
 * VAPID keys from VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY / VAPID_SUBJECT; in development, generated
 * once and kept in DATA_DIR/vapid.json (a new key would orphan every browser's subscription).
 */
export async function loadOrCreateVapidKeys(opts: { env: Record<string, string | undefined>; dataDir: string; production: boolean }): Promise<VapidKeys> {
  const { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey, VAPID_SUBJECT: subject } = opts.env;
  if (publicKey && privateKey && subject) return { publicKey, privateKey, subject };
  if (opts.production) throw new Error('VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT: required when HUEWATCH_ENV=production');
  const file = join(opts.dataDir, 'vapid.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as VapidKeys;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const keys: VapidKeys = { ...webpush.generateVAPIDKeys(), subject: subject ?? 'mailto:ioc@huewatch.invalid' };
  await writeFile(file + '.tmp', JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  await rename(file + '.tmp', file);
  return keys;
}

export const subscriptionId = (endpoint: string) => createHash('sha256').update(endpoint).digest('hex').slice(0, 32);

/** What a resident's service worker receives: compact, in the resident's language, enough to show a notification. */
export function pushPayload(ev: AlertEvent, lang: PushLanguage = 'vi'): string {
  const cut = (s: string) => (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT - 1) + '…' : s);
  return JSON.stringify({
    lang,
    hazard: hazardOf(ev),
    event: ev.event[lang],
    id: ev.id,
    seq: ev.eventSeq,
    type: ev.msgType,
    status: ev.status,
    severity: ev.severity,
    level: ev.level,
    areas: ev.area.codes,
    headline: ev.headline[lang],
    instruction: cut(ev.instruction[lang]),
    sent: ev.sent,
    expires: ev.expires,
  });
}

interface PushItem {
  subscription: string;
  payload: string;
  urgency: 'high' | 'normal';
  ttlS: number;
  sent: string;
}

export interface WebPushOptions {
  vapid: VapidKeys;
  source: AlertSource;
  state: Pick<StateStore, 'putJson' | 'deleteJson' | 'writeJsonBatch' | 'listJson'>;
  log: Logger;
  metrics?: DeliveryMetrics;
  backoff?: Partial<Backoff>;
  clock?: { now(): number };
  /** the areas residents choose from; without it any well-formed area code is taken as it is */
  areas?: readonly ResidentArea[];
}

/** Does the event match a subscription's choices? `codes` is its areas expanded to alert area codes. */
export function wants(s: StoredSubscription, codes: ReadonlySet<string>, ev: AlertEvent): boolean {
  if (!ev.area.codes.some((c) => codes.has(c))) return false;
  if (s.hazards && !s.hazards.includes(hazardOf(ev))) return false;
  // an all-clear (Cancel) reaches everyone who chose its area and hazard, whatever its severity
  if (s.minSeverity && ev.msgType !== 'Cancel' && severityRank(ev.severity) < severityRank(s.minSeverity)) return false;
  return true;
}

export function createWebPushDelivery(opts: WebPushOptions) {
  const clock = opts.clock ?? Date;
  const log = opts.log.child({ module: 'webpush' });
  const subs = new Map<string, StoredSubscription>();
  /** each subscription's areas as the alert area codes they stand for */
  const codesOf = new Map<string, Set<string>>();
  const areaByCode = new Map((opts.areas ?? []).map((a) => [a.code, a]));
  const stationCodes = new Set((opts.areas ?? []).flatMap((a) => a.codes));
  const expand = (areas: readonly string[]) => new Set(areas.flatMap((a) => areaByCode.get(a)?.codes ?? [a]));
  const keep = (id: string, s: StoredSubscription) => {
    subs.set(id, s);
    codesOf.set(id, expand(s.areas));
  };
  const forget = (id: string) => {
    codesOf.delete(id);
    return subs.delete(id);
  };
  let unsubscribe: (() => void) | undefined;

  function find(proof: SubscriptionProof): StoredSubscription | undefined {
    const s = subs.get(subscriptionId(proof.endpoint));
    return s && s.subscription.endpoint === proof.endpoint && s.subscription.keys.p256dh === proof.keys.p256dh && s.subscription.keys.auth === proof.keys.auth ? s : undefined;
  }

  async function send(entry: OutboxEntry<PushItem>): Promise<SendResult> {
    const stored = subs.get(entry.item.subscription);
    if (!stored) return { ok: false, retry: false, gone: true, error: 'unsubscribed' };
    const req = webpush.generateRequestDetails(stored.subscription, entry.item.payload, {
      vapidDetails: opts.vapid,
      contentEncoding: 'aes128gcm',
      TTL: entry.item.ttlS,
      urgency: entry.item.urgency,
    });
    try {
      const res = await fetch(req.endpoint, { method: req.method, headers: req.headers as Record<string, string>, body: req.body ?? null, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await res.body?.cancel();
      if (res.ok) return { ok: true };
      // RFC 8030 §7.3: 404/410 = the subscription no longer exists
      if (res.status === 404 || res.status === 410) {
        opts.metrics?.failed('webpush', 'gone');
        return { ok: false, retry: false, gone: true, error: `HTTP ${res.status}` };
      }
      const retry = res.status >= 500 || res.status === 429 || res.status === 408;
      if (retry) opts.metrics?.failed('webpush', 'retry');
      return { ok: false, retry, error: `HTTP ${res.status}` };
    } catch (err) {
      opts.metrics?.failed('webpush', 'retry');
      return { ok: false, retry: true, error: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
    }
  }

  const outbox = createOutbox<PushItem>({
    state: opts.state,
    namespace: OUTBOX_NAMESPACE,
    log,
    ...(opts.backoff ? { backoff: { maxAttempts: 8, ...opts.backoff } } : { backoff: { maxAttempts: 8 } }),
    concurrency: 32,
    clock,
    send,
    onDelivered: (e) => opts.metrics?.delivered('webpush', { sent: e.item.sent }),
    onGiveUp: async () => opts.metrics?.failed('webpush', 'gave_up'),
    onGone: async (lane) => {
      // forget it durably first: the in-memory count is what callers watch
      await opts.state.deleteJson(SUBSCRIPTIONS_NAMESPACE, lane);
      forget(lane);
    },
  });

  function onEvent({ event }: { event: AlertEvent }) {
    if (isOperatorsOnly(event)) return;
    const payloads = { vi: pushPayload(event, 'vi'), en: pushPayload(event, 'en') };
    const ttlS = event.expires ? Math.max(60, Math.round((Date.parse(event.expires) - clock.now()) / 1000)) : 24 * 3600;
    const urgency = event.severity === 'Extreme' || event.severity === 'Severe' || event.msgType === 'Alert' ? 'high' : 'normal';
    for (const [id, s] of subs) {
      if (!wants(s, codesOf.get(id) ?? expand(s.areas), event)) continue;
      outbox.enqueue(id, { subscription: id, payload: payloads[s.lang ?? 'vi'], urgency, ttlS, sent: event.sent }).catch((err: unknown) => log.error({ err, id: event.id }, 'could not queue a push'));
    }
  }

  return {
    async start() {
      for (const { key, value } of await opts.state.listJson<StoredSubscription>(SUBSCRIPTIONS_NAMESPACE)) keep(key, value);
      await outbox.start();
      unsubscribe = opts.source.subscribe(onEvent);
    },
    async stop() {
      unsubscribe?.();
      await outbox.stop();
    },
    /** The area codes none of the known areas or their stations has (none when no areas were given). */
    unknownAreas(areas: readonly string[]): string[] {
      if (!opts.areas) return [];
      return areas.filter((a) => !areaByCode.has(a) && !stationCodes.has(a));
    },
    get areas(): readonly ResidentArea[] {
      return opts.areas ?? [];
    },
    async subscribe(subscription: PushSubscription, areas: string[], prefs: Partial<Omit<PushPreferences, 'areas'>> = {}): Promise<string> {
      const id = subscriptionId(subscription.endpoint);
      const stored: StoredSubscription = { subscription, areas: [...new Set(areas)], ...choices(prefs), createdAt: new Date(clock.now()).toISOString() };
      await opts.state.putJson(SUBSCRIPTIONS_NAMESPACE, id, stored);
      keep(id, stored);
      return id;
    },
    /** The stored choices of the subscription these endpoint and keys prove; `undefined` if none or the keys differ. */
    find,
    /** Replaces the choices of the subscription the proof names: 'not-found' when it holds none. */
    async update(proof: SubscriptionProof, prefs: PushPreferences): Promise<StoredSubscription | 'not-found'> {
      const id = subscriptionId(proof.endpoint);
      const before = find(proof);
      if (!before) return 'not-found';
      const stored: StoredSubscription = { ...before, areas: [...new Set(prefs.areas)], ...choices(prefs), updatedAt: new Date(clock.now()).toISOString() };
      await opts.state.putJson(SUBSCRIPTIONS_NAMESPACE, id, stored);
      keep(id, stored);
      return stored;
    },
    async unsubscribe(endpoint: string): Promise<boolean> {
      const id = subscriptionId(endpoint);
      const had = forget(id);
      await opts.state.deleteJson(SUBSCRIPTIONS_NAMESPACE, id);
      return had;
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
  };
}
export type WebPushDelivery = ReturnType<typeof createWebPushDelivery>;

function choices(prefs: Partial<Omit<PushPreferences, 'areas'>>): Pick<StoredSubscription, 'hazards' | 'minSeverity' | 'lang'> {
  return {
    ...(prefs.hazards ? { hazards: [...new Set(prefs.hazards)] } : {}),
    ...(prefs.minSeverity ? { minSeverity: prefs.minSeverity } : {}),
    ...(prefs.lang ? { lang: prefs.lang } : {}),
  };
}
