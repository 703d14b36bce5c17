import type { Station } from '../contract/station.ts';
import type { Logger } from '../lib/log.ts';
import type { TimeSeriesStore } from '../store/types.ts';
import type { AlertChain } from './alert-chain.ts';
import { buildRuleEvent } from './alerts.ts';
import type { Outcome } from './dispatch.ts';
import type { EngineMetrics } from './engine-metrics.ts';
import { stationOf } from './evaluate-reading.ts';
import { fireIndexFromStore, type FireIndex, type FireScale } from './fire-danger.ts';
import { evaluateLevel } from './level.ts';
import type { RuleSlots } from './rule-slots.ts';
import type { FireDangerRule, Rule } from './schema.ts';
import type { Standards } from './standards.ts';

export interface FireCheckDeps {
  rules(): readonly Rule[];
  stations: ReadonlyMap<string, Station>;
  slots: Pick<RuleSlots, 'slotOf' | 'dirty'>;
  chain: Pick<AlertChain, 'settle' | 'latestAlert' | 'serialAfterWrites'>;
  /** the time-series store the index is read from (none: fire-danger rules wait) */
  series?: Pick<TimeSeriesStore, 'series'> | undefined;
  standards: Pick<Standards, 'forest_fire_danger'>;
  clock: { now(): number };
  m: EngineMetrics;
  log: Logger;
}

/** The national fire scale: P bounds of levels II–V and the reset rule (config/vn-standards.json). */
export function fireScaleOf(standards: Pick<Standards, 'forest_fire_danger'>): FireScale {
  const f = standards.forest_fire_danger;
  const from = f.levels.slice(1).map((l) => l.p_min);
  return { resetRainMm: f.reset_rain_mm, hour: f.observation_hour_local, levelFrom: [from[0]!, from[1]!, from[2]!, from[3]!] };
}

export interface FireCheck {
  /** every fire-danger rule whose `every` has passed (the tick) */
  all(now: number): Promise<void>;
  /** the rules of a weather station that just reported */
  station(id: string, now: number): Promise<void>;
  /** the reads under way and their steps done (at stop: they are outside the engine's queue) */
  settled(): Promise<void>;
}

/**
 * Forest-fire danger rules: on every tick, and when a weather station reports (at most once per
 * rule's `every`). P is read from the store and goes through the zones machine at the time of the
 * check, so the same data gives the same level after a restart. The read (30 days of a station's
 * weather: tens of ms under load) runs outside the engine's serial queue, so a river's alert never
 * waits for it; only the step through the zones machine and its alert are queued.
 */
export function createFireCheck(d: FireCheckDeps): FireCheck {
  const scale = fireScaleOf(d.standards);
  /** when each rule last read its index */
  const lastRead = new Map<string, number>();
  /** a rule's read and step under way: one at a time, so steps are taken in the order read; a check meanwhile waits for it */
  const busy = new Map<string, Promise<void>>();

  function check(rule: FireDangerRule, now: number): Promise<void> {
    const under = busy.get(rule.id);
    if (under) return under;
    const last = lastRead.get(rule.id);
    if (!d.series || (last !== undefined && now - last < rule.every)) return Promise.resolve();
    lastRead.set(rule.id, now);
    const series = d.series;
    const reading = (async () => {
      try {
        const index = await fireIndexFromStore(series, rule.station, now, { ...scale, ...(rule.resetRainMm ? { resetRainMm: rule.resetRainMm } : {}), lookbackMs: rule.lookback });
        await d.chain.serialAfterWrites(() => step(rule, index, now));
      } finally {
        busy.delete(rule.id);
      }
    })();
    busy.set(rule.id, reading);
    return reading;
  }

  /** In the queue: the index through the rule's zones machine, and its alert if the level changed. */
  async function step(rule: FireDangerRule, index: FireIndex, now: number): Promise<void> {
    const slot = d.slots.slotOf(rule);
    const rec = slot.rec;
    const before = rec.level;
    const res = evaluateLevel({ ...rule, direction: 'rising' }, before, { ts: now, value: index.p, quality: 'ok' });
    if (res.state === before) return;
    rec.level = res.state;
    d.slots.dirty.add(rule.id);
    if (!res.transition) return;
    const station = stationOf(d.stations, rule);
    const out: Outcome = { result: res, source: { station: rule.station, metric: 'nesterov_p', value: index.p, threshold: res.transition.threshold } };
    const cause = { fireIndex: { at: new Date(now).toISOString(), p: index.p, level: index.level, lastReset: index.lastReset ?? null, missingDays: index.missingDays, days: index.days.slice(-7) } };
    slot.inflight++;
    await d.chain.settle(slot, before, res.state, async () => {
      const event = buildRuleEvent(rule, station, out, await d.chain.latestAlert(rec), now);
      return { event, cause, fields: { alert: event ?? null, cause } };
    });
  }

  async function run(rules: Iterable<FireDangerRule>, now: number): Promise<void> {
    for (const rule of rules) {
      try {
        await check(rule, now);
      } catch (err) {
        d.m.errors.inc({ rule: rule.id });
        d.log.error({ err, rule: rule.id }, 'forest-fire danger check failed');
      }
    }
  }
  const fireRules = () => d.rules().filter((r): r is FireDangerRule => r.kind === 'fire-danger');

  return {
    all: (now) => run(fireRules(), now),
    station: (id, now) => run(fireRules().filter((r) => r.station === id), now),
    async settled() {
      while (busy.size > 0) await Promise.allSettled([...busy.values()]);
    },
  };
}
