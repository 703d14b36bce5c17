import type { Station } from '../contract/station.ts';
import type { Logger } from '../lib/log.ts';
import type { AlertChain } from './alert-chain.ts';
import { ackEscalationEvent, buildRuleEvent, isOpen, staleEvent } from './alerts.ts';
import type { Outcome } from './dispatch.ts';
import type { EngineMetrics } from './engine-metrics.ts';
import { stationOf } from './evaluate-reading.ts';
import type { RuleSlots, Slot } from './rule-slots.ts';
import type { Rule } from './schema.ts';
import { stalenessTick } from './staleness.ts';
import type { FireCheck, FireCheckDeps } from './fire-tick.ts';
import type { WindowWarmer } from './warm-windows.ts';

export interface TickDeps extends FireCheckDeps {
  rules(): readonly Rule[];
  stations: ReadonlyMap<string, Station>;
  slots: Pick<RuleSlots, 'slots' | 'slotOf' | 'dirty'>;
  chain: Pick<AlertChain, 'settle' | 'latestAlert' | 'serialAfterWrites'>;
  /** the engine's one fire check (its throttle is shared with the weather stations' reports) */
  fire: FireCheck;
  warmer: Pick<WindowWarmer, 'retryCold'>;
  clock: { now(): number };
  m: EngineMetrics;
  log: Logger;
}

/**
 * The time-driven checks: cold windows, staleness and acknowledgement timeouts in the queue (after
 * the published events are written), and forest-fire danger (fire-tick.ts, its store reads beside
 * the queue). Resolves when all are done.
 */
export function createTick(d: TickDeps): () => Promise<void> {
  const { slots, chain } = d;

  async function staleTick(rule: Extract<Rule, { kind: 'staleness' }>, now: number): Promise<void> {
    const slot = slots.slotOf(rule);
    const rec = slot.rec;
    const before = rec.level;
    const res = stalenessTick(rule, before, now);
    if (res.state === before) return;
    rec.level = res.state; // at once: a reading evaluated while this awaits sees the new level
    slots.dirty.add(rule.id);
    if (!res.transition) return;
    const station = stationOf(d.stations, rule);
    const out: Outcome = { result: res, source: { station: rule.station, metric: 'silence_min', value: res.transition.value, threshold: res.transition.threshold } };
    const cause = { tick: new Date(now).toISOString(), lastSeen: new Date(res.state.lastTs!).toISOString() };
    slot.inflight++;
    await chain.settle(slot, before, res.state, async () => {
      const event = buildRuleEvent(rule, station, out, await chain.latestAlert(rec), now);
      return { event, cause, fields: { alert: event ?? null, cause } };
    });
    // Alerts fed by this station expire as stale, not as a silent resolution.
    for (const other of d.rules()) {
      if (other.station !== rule.station || other.kind === 'staleness' || other.kind === 'release' || other.kind === 'sensor-fault') continue;
      const oslot = slots.slots.get(other.id);
      if (!oslot || oslot.rec.stale) continue;
      const open = await chain.latestAlert(oslot.rec);
      if (!isOpen(open)) continue;
      const stale = staleEvent(open, res.state.lastTs!, now);
      oslot.inflight++;
      await chain.settle(oslot, oslot.rec.level, oslot.rec.level, async () => ({ event: stale, cause, fields: { alert: stale, cause, stale: true } }));
    }
  }

  async function ackTick(rule: Exclude<Rule, { kind: 'release' }>, slot: Slot, now: number): Promise<void> {
    const ack = rule.ackWithin!;
    // Not yet due by the engine's own record: no store read. An operator's action in the store can
    // only have acknowledged or ended it since, never made it due sooner (firstSent never changes).
    const ours = slot.rec.alert;
    if (!isOpen(ours) || ours.status !== 'active' || now - Date.parse(ours.firstSent) < ack.after) return;
    const open = await chain.latestAlert(slot.rec);
    if (!isOpen(open) || open.status !== 'active' || now - Date.parse(open.firstSent) < ack.after) return;
    const event = ackEscalationEvent(open, ack.severity, Math.round(ack.after / 60_000), now);
    const cause = { ackTimeout: { after: ack.after, channels: ack.channels, from: open.severity, to: event.severity }, tick: new Date(now).toISOString() };
    slot.inflight++;
    await chain.settle(slot, slot.rec.level, slot.rec.level, async () => ({ event, cause, fields: { alert: event, cause, ackEscalated: true } }));
  }

  async function timed(now: number): Promise<void> {
    await d.warmer.retryCold(now);
    for (const rule of d.rules()) {
      try {
        if (rule.kind === 'staleness') await staleTick(rule, now);
        const slot = slots.slots.get(rule.id);
        if (rule.kind !== 'release' && rule.ackWithin && slot?.rec.alert && !slot.rec.ackEscalated) await ackTick(rule, slot, now);
      } catch (err) {
        d.m.errors.inc({ rule: rule.id });
        d.log.error({ err, rule: rule.id }, 'timed rule check failed');
      }
    }
  }

  return async function tick() {
    const now = d.clock.now();
    await Promise.all([d.fire.all(now), chain.serialAfterWrites(() => timed(now))]);
  };
}
