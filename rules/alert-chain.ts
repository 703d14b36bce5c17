import type { EventEmitter } from 'node:events';
import type { AlertEvent } from '../contract/alert.ts';
import type { Bus } from '../contract/bus.ts';
import type { Logger } from '../lib/log.ts';
import type { StateStore } from '../store/types.ts';
import { publishEvent } from './alerts.ts';
import type { EngineMetrics } from './engine-metrics.ts';
import type { LevelState } from './level.ts';
import { RULE_STATE_NAMESPACE, type RuleRecord } from './record.ts';
import type { RuleSlots, Slot } from './rule-slots.ts';
import type { Rule } from './schema.ts';

/** What `settle` is told to do: the event (if any), its cause, and the record's new alert fields. */
export type Decision = { event?: AlertEvent | undefined; cause: unknown; fields: Partial<RuleRecord> };

export interface AlertChain {
  /** the tail of the queue: compared before and after a reading to know whether it queued work */
  readonly queue: Promise<unknown>;
  serial<T>(work: () => Promise<T>): Promise<T>;
  /** serial work that reads alerts from the store: after the published events are written */
  serialAfterWrites<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `work` in the queue; a failure is counted against the rule, never stops the others. */
  queued(rule: Rule, what: string, work: () => Promise<void>): void;
  /** Persist first (the event and its cause in the history), then tell the world. */
  commit(event: AlertEvent, cause: unknown): Promise<void>;
  settle(slot: Slot, before: LevelState, after: LevelState, decide: () => Promise<Decision>, opts?: { publishFirst?: boolean }): Promise<void>;
  /** The newest shape of a rule's alert: the store's (operators act there) or ours. */
  latestAlert(rec: RuleRecord): Promise<AlertEvent | null>;
  /** the queue, then the writes of published events, drained */
  drain(): Promise<void>;
}

export interface AlertChainOptions {
  mqtt: Bus;
  store: Pick<StateStore, 'appendAlertEvent' | 'getAlert'>;
  slots: Pick<RuleSlots, 'dirty' | 'flush'>;
  events: EventEmitter<{ alert: [AlertEvent] }>;
  m: EngineMetrics;
  log: Logger;
}

/**
 * The alert side of the engine: one queue for all I/O work (alert events in the order their
 * observations arrived, ticks and operator actions between them), and the settle/persist chain
 * of each alert change.
 */
export function createAlertChain(opts: AlertChainOptions): AlertChain {
  const { mqtt, store, m, log } = opts;
  const { dirty, flush } = opts.slots;
  // One queue for all I/O work: alert events in the order their observations arrived, ticks and
  // operator actions between them. Composite rules read several stations, so per-station queues
  // could race on their state.
  let queue: Promise<unknown> = Promise.resolve();

  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = queue.then(work);
    queue = next.catch((err: unknown) => log.error({ err }, 'rules work failed'));
    return next;
  }

  /** Counted, logged and told to in-process listeners once it is out. */
  function announce(event: AlertEvent): void {
    m.events.inc({ msgType: event.msgType });
    // `alertLevel`, not `level`: pino's own field would be overwritten
    log.info({ id: event.id, key: event.key, msgType: event.msgType, alertLevel: event.level, eventSeq: event.eventSeq, status: event.status }, 'alert event');
    opts.events.emit('alert', event);
  }

  async function commit(event: AlertEvent, cause: unknown): Promise<void> {
    await store.appendAlertEvent(event, cause);
    await publishEvent(mqtt, event);
    announce(event);
  }

  /**
   * The I/O of one alert change of a rule, run in the queue: `decide` builds the event (it may read
   * the store) and the record's new alert fields; the record is written, then the event committed.
   * Until the write, the rule is held out of the periodic flush (`inflight`, taken by the caller);
   * a failure before it puts the record back as it was, so the next reading or tick tries again.
   */
  async function settle(slot: Slot, before: LevelState, after: LevelState, decide: () => Promise<Decision>, { publishFirst = false } = {}): Promise<void> {
    const rec = slot.rec;
    const saved: Partial<RuleRecord> = { alert: rec.alert, cause: rec.cause, stale: rec.stale, ackEscalated: rec.ackEscalated };
    let held = true;
    let written = false;
    try {
      const d = await decide();
      // A reading's alert goes out before it is written (its id is the same whenever the reading
      // is evaluated, rules/alerts.ts uuidFor): residents hear it without waiting for the store.
      // Killed before the write, the engine evaluates the reading again at start (replay) and the
      // same event comes out again, which consumers dedupe by id and eventSeq.
      const published = publishFirst && d.event ? (await publishEvent(mqtt, d.event), announce(d.event), true) : false;
      Object.assign(rec, d.fields);
      slot.inflight--;
      held = false;
      dirty.add(rec.ruleId);
      if (published) {
        // written in a chain of its own, in order: the next reading's alert does not wait for it
        written = true;
        persistLater(d.event!, d.cause, slot.inflight > 0 ? { ...rec, level: after } : undefined);
        return;
      }
      // later alert work of this rule still queued: write this change at its own level only
      await flush(slot.inflight > 0 ? { ...rec, level: after } : undefined);
      written = true;
      if (d.event) await commit(d.event, d.cause);
    } finally {
      if (held) slot.inflight--;
      if (!written) {
        Object.assign(rec, saved);
        if (rec.level === after) rec.level = before;
        dirty.add(rec.ruleId);
      }
    }
  }

  /**
   * Published alert events being written (record, then history), in order. Whatever reads the
   * store for an alert's shape (operator actions, ticks) waits for it first; until then the
   * engine's own records are the newest shape (latestAlert).
   */
  let persisting: Promise<void> = Promise.resolve();
  let persistPending = 0;
  function persistLater(event: AlertEvent, cause: unknown, extra: RuleRecord | undefined): void {
    persistPending++;
    persisting = persisting.then(async () => {
      try {
        await flush(extra);
        await store.appendAlertEvent(event, cause);
      } catch (err) {
        // the record stays dirty (flush) and holds the event: latestAlert writes it on the next change
        m.errors.inc({ rule: extra?.ruleId ?? event.key });
        log.error({ err, id: event.id, eventSeq: event.eventSeq }, 'alert event published but not yet written: kept in rule state');
      } finally {
        persistPending--;
      }
    });
  }

  return {
    get queue() {
      return queue;
    },
    serial,
    // The writes are waited for outside the queue first, so readings' alerts are not held behind
    // them; in the queue, only for the events published since.
    serialAfterWrites: (work) => persisting.then(() => serial(async () => {
      await persisting;
      return work();
    })),
    queued(rule, what, work) {
      void serial(work).catch((err: unknown) => {
        m.errors.inc({ rule: rule.id });
        log.error({ err, rule: rule.id }, what);
      });
    },
    commit,
    settle,
    async latestAlert(rec) {
      if (!rec.alert) return null;
      if (persistPending > 0) return rec.alert; // the store lags the published events: ours are newer
      const stored = await store.getAlert(rec.alert.id);
      if (stored && stored.eventSeq >= rec.alert.eventSeq) return stored;
      await store.appendAlertEvent(rec.alert, rec.cause ?? { recovered: RULE_STATE_NAMESPACE });
      log.warn({ id: rec.alert.id, eventSeq: rec.alert.eventSeq }, 'alert event missing from the store: recovered from rule state');
      return rec.alert;
    },
    async drain() {
      // work waiting for the writes joins the queue late (serialAfterWrites): until neither moves
      for (;;) {
        const q = queue;
        const p = persisting;
        await q;
        await p;
        if (q === queue && p === persisting) return;
      }
    },
  };
}
