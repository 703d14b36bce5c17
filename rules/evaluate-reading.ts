import type { AlertEvent } from '../contract/alert.ts';
import type { Observation } from '../contract/obs.ts';
import type { Station } from '../contract/station.ts';
import type { Logger } from '../lib/log.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import type { AlertChain } from './alert-chain.ts';
import { buildRuleEvent, isOpen, isoSeconds, restyle, uuidFor } from './alerts.ts';
import { describeResult, evaluateResult, windowNeeds, type EvalContext } from './dispatch.ts';
import type { EngineMetrics } from './engine-metrics.ts';
import { arrivedLate, asLate, maxLagOf } from './lateness.ts';
import { concernsIndexed, windowKey, type RuleIndex, type WindowSet } from './rule-index.ts';
import type { RuleSlots } from './rule-slots.ts';
import type { Rule } from './schema.ts';

export interface ReadingDeps {
  stations: ReadonlyMap<string, Station>;
  index(): RuleIndex;
  windows: WindowSet;
  ctx: EvalContext;
  /** windows the store could not fill at start (warm-windows.ts) */
  cold: ReadonlySet<string>;
  slots: Pick<RuleSlots, 'slotOf' | 'dirty'>;
  chain: Pick<AlertChain, 'queue' | 'queued' | 'settle' | 'serial'>;
  clock: { now(): number };
  m: EngineMetrics;
  log: Logger;
}

export function stationOf(stations: ReadonlyMap<string, Station>, rule: Rule): Station {
  const s = stations.get(rule.station);
  if (!s) throw new Error(`station ${rule.station} is not in the catalogue`);
  return s;
}

/**
 * The hot path: windows, then the station's own rules; no await, no store call. `replayedAt`:
 * the engine's start, for a stored reading replayed (its receipt time is not stored: it counts
 * as received now, so a reading already old then does not alarm).
 */
export function createReadingHandler(d: ReadingDeps): (obs: Observation, replayedAt?: number) => void {
  const { slots, chain, m, log } = d;
  /** a late reading that would have changed an alert is logged, at most once a minute per rule */
  const lateLog = new ThrottledLog(log, 60_000, () => d.clock.now());
  /** maxLag per rule (its own, else its station kind's): rules are never mutated */
  const maxLags = new WeakMap<Rule, number>();
  const maxLag = (rule: Rule): number => {
    let ms = maxLags.get(rule);
    if (ms === undefined) maxLags.set(rule, (ms = maxLagOf(rule, d.stations.get(rule.station)?.kind)));
    return ms;
  };

  /**
   * One observation through one rule, in memory. Nothing is awaited: the new state is kept and
   * marked dirty; an alert change is handed to the queue.
   */
  function evaluate(rule: Rule, obs: Observation, now: number, receivedAt: number): void {
    const slot = slots.slotOf(rule);
    const rec = slot.rec;
    let res = evaluateResult(rule, rec.level, obs, d.ctx, now);
    if (!res) return;
    // Not current (received long after it was observed): recorded, never an alert change (lateness.ts).
    // Staleness judges receipt itself.
    if (rule.kind !== 'staleness' && arrivedLate(obs.ts, receivedAt, maxLag(rule))) {
      if (res.transition) {
        lateLog.warn(rule.id, { rule: rule.id, station: obs.station, ts: obs.ts, receivedAt, level: res.transition.to, value: res.transition.value },
          'a reading that arrived late would have changed the alert level: stored and recorded, not alerted');
      }
      res = asLate(rec.level, res);
    }
    m.evaluations.inc();
    if (res.ignored) m.ignored.inc({ reason: res.ignored });
    if (res.state === rec.level) return;
    // A cold window (the store did not answer at start) under-counts: it may raise an alert, never
    // lower or end one, or residents would hear an all-clear in the middle of the rain.
    if (d.cold.size > 0 && (res.state.level < rec.level.level || res.state.pending?.dir === 'fall') && windowNeeds(rule).some((n) => d.cold.has(windowKey(n.station, n.metric)))) {
      m.ignored.inc({ reason: 'window-cold' });
      return;
    }
    const before = rec.level;
    const after = res.state;
    if (res.transition && rule.kind !== 'release') {
      const station = stationOf(d.stations, rule); // throws before anything changes: the rule fails, the others go on
      const out = describeResult(rule, res, obs, d.ctx); // now: the windows move on with later readings
      rec.level = after;
      slots.dirty.add(rule.id);
      slot.inflight++;
      const newId = uuidFor(`${rule.id}|${obs.ts}|${res.transition.to}`);
      chain.queued(rule, 'alert event failed', () => chain.settle(slot, before, after, async () => {
        // the engine's own record: operator actions and ticks keep it in step (restore reconciled it with
        // the store), so a reading's alert reads nothing from the store on its way out
        const event = buildRuleEvent(rule, station, out, rec.alert, now, { ...rec, newId });
        const ended = !event || event.msgType === 'Cancel';
        return { event, cause: obs, fields: { alert: ended ? null : event!, cause: ended ? undefined : obs, stale: false, ackEscalated: ended ? false : rec.ackEscalated } };
      }, { publishFirst: true }));
      return;
    }
    rec.level = after;
    slots.dirty.add(rule.id);
    if (rec.stale && !res.ignored) {
      // Data is back: the alert's information is current again (once, however many readings follow).
      rec.stale = false;
      const out = describeResult(rule, res, obs, d.ctx);
      slot.inflight++;
      chain.queued(rule, 'alert refresh failed', () => chain.settle(slot, after, after, async () => {
        const prev = rec.alert;
        if (!isOpen(prev)) return { cause: obs, fields: { stale: false } };
        const event = restyle(prev, {
          certainty: 'Observed', expires: rule.expires !== undefined ? isoSeconds(now + rule.expires) : null,
          description: stripNote(prev.description), source: { ...out.source, observedAt: new Date(obs.ts).toISOString() },
        }, now);
        return { event, cause: obs, fields: { alert: event, cause: obs, stale: false } };
      }));
    }
  }

  return function handle(obs, replayedAt) {
    d.windows.add(obs);
    const now = d.clock.now();
    const receivedAt = obs.receivedAt ?? replayedAt ?? obs.ts;
    const tail = chain.queue;
    for (const entry of d.index().of(obs.station)) {
      if (!concernsIndexed(entry, obs)) continue;
      try {
        evaluate(entry.rule, obs, now, receivedAt);
      } catch (err) {
        // One failing rule never takes the engine down, nor the other rules.
        m.errors.inc({ rule: entry.rule.id });
        log.error({ err, rule: entry.rule.id, station: obs.station, ts: obs.ts }, 'rule evaluation failed');
      }
    }
    // handled = its alert events, if any, persisted and published
    if (chain.queue === tail) m.obsHandled.inc();
    else void chain.serial(async () => m.obsHandled.inc());
  };
}

/** Removes the "(No data since …)" note that staleEvent appended. */
function stripNote(desc: AlertEvent['description']): AlertEvent['description'] {
  return { vi: desc.vi.replace(/ \(Mất số liệu từ [^)]*\)$/, ''), en: desc.en.replace(/ \(No data since [^)]*\)$/, '') };
}
