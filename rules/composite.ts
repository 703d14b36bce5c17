import { evaluateLevel, type LevelMachine, type LevelResult, type LevelState } from './level.ts';
import type { CompositeRule, Condition } from './schema.ts';
import { rise, type Sample } from './window.ts';

/**
 * Composite: AND (`all`) or OR (`any`) of conditions on the latest readings of one or several
 * stations, e.g. "Tả Trạch above its design flood level while its inflow rises", or "Kim Long above
 * alarm level 2" for the flood-cutting operation of Decision 1606/QĐ-TTg. A condition whose newest
 * reading is older than its `maxAge` is false: no decision on stale data. Derived value 1/0 through
 * the zones machine, so holds apply.
 */
export type WindowOf = (station: string, metric: string) => readonly Sample[];

const machines = new WeakMap<CompositeRule, LevelMachine>();

export function compositeMachine(rule: CompositeRule): LevelMachine {
  let m = machines.get(rule);
  if (!m) machines.set(rule, (m = buildMachine(rule)));
  return m;
}

function buildMachine(rule: CompositeRule): LevelMachine {
  return { levels: [{ level: 1, value: 1 }], hysteresis: 0, holdRise: rule.holdRise, holdFall: rule.holdFall };
}

export function conditionHolds(c: Condition, windowOf: WindowOf, now: number): boolean {
  const w = windowOf(c.station, c.metric);
  const last = w.at(-1);
  if (!last || now - last.ts > c.maxAge) return false;
  if (c.above !== undefined) return last.value >= c.above;
  if (c.below !== undefined) return last.value <= c.below;
  return rise(w, last.ts, c.rises!.within) >= c.rises!.by;
}

export function evaluateComposite(rule: CompositeRule, state: LevelState, windowOf: WindowOf, ts: number): LevelResult & { held: boolean[] } {
  const held = new Array<boolean>(rule.conditions.length);
  let all = true;
  let any = false;
  for (let i = 0; i < held.length; i++) {
    const h = conditionHolds(rule.conditions[i]!, windowOf, ts);
    held[i] = h;
    all &&= h;
    any ||= h;
  }
  const on = rule.op === 'all' ? all : any;
  return { ...evaluateLevel(compositeMachine(rule), state, { ts, value: on ? 1 : 0, quality: 'ok' }), held };
}

/** (station, metric, span) pairs whose windows the engine must keep for this rule. */
export function compositeNeeds(rule: CompositeRule): Array<{ station: string; metric: Condition['metric']; span: number }> {
  return rule.conditions.map((c) => ({ station: c.station, metric: c.metric, span: Math.max(c.maxAge, c.rises?.within ?? 0) }));
}
