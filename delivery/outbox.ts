import type { Logger } from 'pino';
import { z } from 'zod';
import type { StateStore } from '../store/types.ts';

/**
 * A durable outbox: what a channel must still deliver, kept in the StateStore (one JSON document
 * per entry in its own namespace) so a restart or a receiver that is down for hours loses nothing.
 * Entries are grouped in lanes (one per webhook endpoint, one per push subscription); a lane is
 * delivered strictly in order, one entry at a time, so a receiver sees events in the order they
 * happened. Lanes run side by side up to `concurrency` sends at once.
 *
 * Why not p-retry: the attempt count and the next try must survive a restart, so the retry state
 * lives in the stored entry and the schedule here; a retry library would keep it in memory.
 */

export const backoffSchema = z.object({
  /** first retry after about this long */
  baseMs: z.number().int().positive().default(1_000),
  /** the wait doubles per attempt up to this (5 min: a receiver that is back is found soon) */
  maxMs: z.number().int().positive().default(300_000),
  /** attempts before giving up (with the defaults, ~20 attempts span about 1.5 h) */
  maxAttempts: z.number().int().positive().default(20),
});
export type Backoff = z.output<typeof backoffSchema>;

/** Next wait: exponential with "equal jitter" so lanes that failed together do not retry together. */
export function backoffDelay(b: Backoff, attempts: number, random: () => number = Math.random): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

export interface OutboxEntry<T> {
  key: string;
  lane: string;
  item: T;
  attempts: number;
  enqueuedAt: number;
  lastError?: string;
}

export type SendResult =
  | { ok: true }
  /** retry: worth trying again later; gone: the lane's receiver no longer exists (drop the lane) */
  | { ok: false; error: string; retry: boolean; gone?: boolean };

export interface OutboxOptions<T> {
  state: Pick<StateStore, 'writeJsonBatch' | 'listJson'>;
  namespace: string;
  log: Logger;
  backoff?: Partial<Backoff>;
  /** sends in flight at once, over all lanes */
  concurrency?: number;
  send(entry: OutboxEntry<T>): Promise<SendResult>;
  /** an entry given up on (refused, or out of attempts): e.g. to a dead-letter list */
  onGiveUp?(entry: OutboxEntry<T>, error: string): Promise<void>;
  onDelivered?(entry: OutboxEntry<T>): void;
  /** the receiver of a lane is gone: every entry of the lane was dropped */
  onGone?(lane: string): Promise<void>;
  clock?: { now(): number };
}

interface Lane<T> {
  entries: Array<{ entry: OutboxEntry<T>; persisted: Promise<void> }>;
  running: boolean;
}

export function createOutbox<T>(opts: OutboxOptions<T>) {
  const backoff = backoffSchema.parse(opts.backoff ?? {});
  const concurrency = opts.concurrency ?? 16;
  const clock = opts.clock ?? Date;
  const log = opts.log.child({ module: 'outbox', namespace: opts.namespace });
  const lanes = new Map<string, Lane<T>>();
  const timers = new Set<{ timer: NodeJS.Timeout; wake(): void }>();
  const inFlight = new Set<Promise<void>>();
  let counter = 0;
  let active = 0;
  const waiting: Array<() => void> = [];
  let stopped = true;

  // keys sort in enqueue order: listJson returns them by key, so the order survives a restart
  const nextKey = () => String(++counter).padStart(16, '0');

  async function acquire() {
    if (active < concurrency) {
      active++;
      return;
    }
    await new Promise<void>((r) => waiting.push(r));
  }
  function release() {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = { timer: setTimeout(() => wake(), ms), wake: () => wake() };
      const wake = () => {
        clearTimeout(t.timer);
        timers.delete(t);
        resolve();
      };
      timers.add(t);
    });
  }

  // Group commit: every put and delete goes into the next batch, written in one transaction. A
  // fan-out to thousands of push subscriptions is then one store operation, not thousands (each
  // its own commit: ~200/s, and past the store's queue bound refused, which lost pushes).
  let batch: { changes: Map<string, OutboxEntry<T> | undefined>; done: Promise<void> } | undefined;
  let writing: Promise<unknown> = Promise.resolve();
  function persist(key: string, value: OutboxEntry<T> | undefined): Promise<void> {
    if (!batch) {
      const changes = new Map<string, OutboxEntry<T> | undefined>();
      const done = writing.then(() => {
        batch = undefined; // changes from now on go into the next batch
        return opts.state.writeJsonBatch(opts.namespace, [...changes].map(([k, v]) => (v === undefined ? { key: k } : { key: k, value: v })));
      });
      batch = { changes, done };
      writing = done.catch(() => undefined);
    }
    batch.changes.set(key, value);
    return batch.done;
  }

  async function remove(lane: Lane<T>, key: string) {
    await persist(key, undefined);
    lane.entries = lane.entries.filter((e) => e.entry.key !== key);
  }

  async function runLane(name: string, lane: Lane<T>) {
    lane.running = true;
    try {
      while (!stopped && lane.entries.length > 0) {
        const head = lane.entries[0]!;
        const { entry } = head;
        try {
          await head.persisted;
        } catch (err) {
          // never sent before it is stored (a restart would not know of it): store it again, later
          log.warn({ err, lane: name, key: entry.key }, 'outbox entry not stored; trying again');
          head.persisted = persist(entry.key, entry);
          await sleep(backoffDelay(backoff, 1));
          continue;
        }
        await acquire();
        let result: SendResult;
        try {
          result = await opts.send(entry);
        } catch (err) {
          result = { ok: false, error: (err as Error).message, retry: true };
        } finally {
          release();
        }
        if (result.ok) {
          await remove(lane, entry.key);
          opts.onDelivered?.(entry);
          continue;
        }
        entry.attempts++;
        entry.lastError = result.error;
        if (result.gone) {
          log.info({ lane: name, error: result.error }, 'receiver gone: lane dropped');
          for (const e of [...lane.entries]) await remove(lane, e.entry.key);
          await opts.onGone?.(name);
          break;
        }
        if (!result.retry || entry.attempts >= backoff.maxAttempts) {
          log.warn({ lane: name, key: entry.key, attempts: entry.attempts, error: result.error }, 'delivery given up');
          await opts.onGiveUp?.(entry, result.error);
          await remove(lane, entry.key);
          continue;
        }
        await persist(entry.key, entry);
        if (stopped) break;
        await sleep(backoffDelay(backoff, entry.attempts));
      }
    } catch (err) {
      log.error({ err, lane: name }, 'outbox lane failed; it resumes on the next enqueue or start');
    } finally {
      lane.running = false;
      if (lane.entries.length === 0) lanes.delete(name);
    }
  }

  function kick(name: string) {
    const lane = lanes.get(name);
    if (!lane || lane.running || stopped) return;
    const p = runLane(name, lane);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }

  function push(entry: OutboxEntry<T>, persisted: Promise<void>) {
    let lane = lanes.get(entry.lane);
    if (!lane) lanes.set(entry.lane, (lane = { entries: [], running: false }));
    lane.entries.push({ entry, persisted });
  }

  return {
    async start() {
      stopped = false;
      const stored = await opts.state.listJson<OutboxEntry<T>>(opts.namespace);
      for (const { key, value } of stored) {
        counter = Math.max(counter, Number(key) || 0);
        push(value, Promise.resolve());
      }
      if (stored.length > 0) log.info({ pending: stored.length }, 'outbox resumed');
      for (const name of lanes.keys()) kick(name);
    },
    async stop() {
      stopped = true;
      for (const t of [...timers]) t.wake();
      await Promise.all([...inFlight]);
    },
    /** Persists the item, then delivers it after what the lane already holds. */
    enqueue(lane: string, item: T): Promise<void> {
      const entry: OutboxEntry<T> = { key: nextKey(), lane, item, attempts: 0, enqueuedAt: clock.now() };
      const persisted = persist(entry.key, entry);
      push(entry, persisted);
      kick(lane);
      return persisted;
    },
    /** Entries waiting, over all lanes. */
    get pending(): number {
      let n = 0;
      for (const l of lanes.values()) n += l.entries.length;
      return n;
    },
  };
}
export type Outbox<T> = ReturnType<typeof createOutbox<T>>;
