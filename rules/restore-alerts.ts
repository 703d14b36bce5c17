import type { AlertEvent } from '../contract/alert.ts';
import type { Bus } from '../contract/bus.ts';
import { topics } from '../contract/topics.ts';
import type { Logger } from '../lib/log.ts';
import type { StateStore } from '../store/types.ts';
import type { AlertChain } from './alert-chain.ts';
import { isOpen } from './alerts.ts';
import { RULE_STATE_NAMESPACE, type RuleRecord } from './record.ts';
import type { RuleSlots } from './rule-slots.ts';
import type { Rule } from './schema.ts';

export interface RestoreDeps {
  mqtt: Bus;
  store: Pick<StateStore, 'listJson'>;
  slots: Pick<RuleSlots, 'slots' | 'dirty' | 'flush'>;
  chain: Pick<AlertChain, 'latestAlert'>;
  rules(): readonly Rule[];
  log: Logger;
}

/**
 * At start, the rules' records from the store, each open alert re-published unchanged (same id and
 * eventSeq); and `republish`, the same on every reconnection of the bus.
 */
export function createAlertRestore(d: RestoreDeps): { restore(): Promise<void>; republish(): Promise<void> } {
  const { mqtt, slots, chain, log } = d;

  async function publishRetained(alert: AlertEvent): Promise<void> {
    // The same event again (same id and eventSeq): consumers dedupe, a wiped broker is healed.
    for (const code of alert.area.codes) await mqtt.publishAsync(topics.alert(code, alert.key), JSON.stringify(alert), { qos: 1, retain: true });
    log.info({ id: alert.id, key: alert.key, eventSeq: alert.eventSeq }, 'active alert re-published');
  }

  return {
    async restore() {
      for (const { key, value } of await d.store.listJson<RuleRecord>(RULE_STATE_NAMESPACE)) {
        slots.slots.set(key, { rec: value, inflight: 0 });
        const latest = await chain.latestAlert(value);
        if (!latest) continue;
        // an operator's change that reached the history but not the record before a stop
        if (latest.eventSeq > value.alert!.eventSeq) {
          value.alert = latest;
          slots.dirty.add(key);
        }
        if (!d.rules().some((r) => r.id === key)) log.warn({ rule: key, id: latest.id }, 'rule is gone but its alert is open: an operator must cancel it');
        if (isOpen(latest)) await publishRetained(latest);
        else {
          for (const code of latest.area.codes) await mqtt.publishAsync(topics.alert(code, latest.key), '', { qos: 1, retain: true });
          value.alert = null;
          slots.dirty.add(key);
        }
      }
      if (slots.dirty.size > 0) await slots.flush();
    },
    /** A broker restarted apart has forgotten its retained messages: every open alert again. */
    async republish() {
      for (const slot of slots.slots.values()) {
        const latest = await chain.latestAlert(slot.rec);
        if (isOpen(latest)) await publishRetained(latest);
      }
    },
  };
}
