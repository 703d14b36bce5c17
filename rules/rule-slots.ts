import type { Logger } from '../lib/log.ts';
import type { StateStore } from '../store/types.ts';
import type { EngineMetrics } from './engine-metrics.ts';
import { initialLevelState } from './level.ts';
import { RULE_STATE_NAMESPACE, type RuleRecord } from './record.ts';
import { alertKey, type Rule } from './schema.ts';

/** A rule's record in memory, with what the batched writes need to know about it. */
export interface Slot {
  rec: RuleRecord;
  /**
   * Alert work queued for this rule and not yet written. While it is, the periodic flush leaves the
   * record alone: a level written without the alert it raised would, after a crash, never raise it.
   */
  inflight: number;
}

export interface RuleSlots {
  /** the records in memory, by rule id */
  readonly slots: Map<string, Slot>;
  /** rule ids whose record changed since it was last written */
  readonly dirty: Set<string>;
  slotOf(rule: Rule): Slot;
  /**
   * Writes every dirty record not held by queued alert work, plus `extra` (the record of an alert
   * being committed, at the level of its transition), in ONE batch. A failed batch leaves the
   * records dirty for the next flush.
   */
  flush(extra?: RuleRecord): Promise<void>;
  /** the periodic flush (every `stateFlushMs`): one at a time, none when nothing changed */
  timedFlush(): void;
  /** For operator actions: the record's alert fields (not its level: readings own that) are written now. */
  putRecord(rec: RuleRecord, isRelease: boolean): Promise<void>;
}

/** The rules' records in memory and their batched writes to the `rule-state` namespace. */
export function createRuleSlots(opts: { store: Pick<StateStore, 'writeJsonBatch'>; m: EngineMetrics; log: Logger }): RuleSlots {
  const { store, m, log } = opts;
  const slots = new Map<string, Slot>();
  const dirty = new Set<string>();
  /** writes of rule state, one after the other: a later snapshot never lands under an older one */
  let writes: Promise<unknown> = Promise.resolve();
  let timedFlushRunning = false;

  function flush(extra?: RuleRecord): Promise<void> {
    const run = writes.then(async () => {
      const changes: Array<{ key: string; value: RuleRecord }> = [];
      for (const id of dirty) {
        const slot = slots.get(id);
        if (!slot) dirty.delete(id);
        else if (slot.inflight === 0) changes.push({ key: id, value: { ...slot.rec } }); // level and alert objects are never mutated: a shallow copy is a snapshot
      }
      if (extra) changes.push({ key: extra.ruleId, value: extra });
      if (changes.length === 0) return;
      for (const c of changes) if (c.value !== extra) dirty.delete(c.key);
      try {
        await store.writeJsonBatch(RULE_STATE_NAMESPACE, changes);
        m.stateWrites.inc();
      } catch (err) {
        for (const c of changes) if (c.value !== extra) dirty.add(c.key);
        m.stateWriteFailures.inc();
        log.error({ err, records: changes.length }, 'rule state not written: kept for the next flush');
        throw err;
      }
    });
    writes = run.catch(() => undefined);
    return run;
  }

  return {
    slots,
    dirty,
    slotOf(rule) {
      let slot = slots.get(rule.id);
      if (!slot) slots.set(rule.id, (slot = { rec: { ruleId: rule.id, key: alertKey(rule), level: initialLevelState(), alert: null }, inflight: 0 }));
      return slot;
    },
    flush,
    timedFlush() {
      if (timedFlushRunning || dirty.size === 0) return;
      timedFlushRunning = true;
      flush().catch(() => undefined).finally(() => (timedFlushRunning = false)); // logged and counted in flush
    },
    async putRecord(rec, isRelease) {
      const slot = slots.get(rec.ruleId);
      if (!slot) slots.set(rec.ruleId, { rec: { ...rec }, inflight: 0 });
      else {
        Object.assign(slot.rec, { alert: rec.alert, cause: rec.cause, stale: rec.stale, ackEscalated: rec.ackEscalated });
        // a release rule's level is the operator's (no reading moves it)
        if (isRelease) slot.rec.level = rec.level;
      }
      dirty.add(rec.ruleId);
      await flush();
    },
  };
}
