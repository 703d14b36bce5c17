import { METRIC_NAMES, type MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import { AQI_METRICS } from './aqi-rule.ts';
import { windowNeeds } from './dispatch.ts';
import type { Rule } from './schema.ts';
import { push, type Sample, type Window } from './window.ts';

/**
 * The rules indexed by the station whose observations they read, and the rolling windows they
 * need: what the engine (and the bench) use so that one observation looks only at its own few
 * rules, not at all 91. Pure, no I/O; rebuilt when the rules are replaced.
 */

export interface WindowNeed {
  station: string;
  metric: MetricName;
  /** the longest span any rule needs, ms */
  span: number;
}

export interface IndexedRule {
  rule: Rule;
  /** metrics of the observation that concern the rule; null = any metric (staleness, sensor-fault) */
  metrics: ReadonlySet<string> | null;
}

export interface RuleIndex {
  readonly rules: readonly Rule[];
  /** rules an observation of `station` may concern, in file order (a composite under each station it reads) */
  of(station: string): readonly IndexedRule[];
  /** stations that have rules */
  readonly stations: ReadonlySet<string>;
  /** windows to keep, by `windowKey` */
  readonly needs: ReadonlyMap<string, WindowNeed>;
  /** metrics the rules of a station read (what a replay from the store must fetch) */
  metricsOf(station: string): readonly MetricName[];
}

export const windowKey = (station: string, metric: string) => `${station}\u0000${metric}`;

const NONE: readonly IndexedRule[] = [];

export function indexRules(rules: readonly Rule[]): RuleIndex {
  const byStation = new Map<string, IndexedRule[]>();
  const metrics = new Map<string, Set<MetricName>>();
  const needs = new Map<string, WindowNeed>();
  const add = (station: string, entry: IndexedRule, read: readonly MetricName[]) => {
    let list = byStation.get(station);
    if (!list) byStation.set(station, (list = []));
    if (!list.some((e) => e.rule === entry.rule)) list.push(entry);
    let set = metrics.get(station);
    if (!set) metrics.set(station, (set = new Set()));
    for (const m of read) set.add(m);
  };
  for (const rule of rules) {
    for (const n of windowNeeds(rule)) {
      const k = windowKey(n.station, n.metric);
      needs.set(k, { ...n, span: Math.max(n.span, needs.get(k)?.span ?? 0) });
    }
    switch (rule.kind) {
      case 'level': case 'rate': case 'accumulation': case 'rainfall':
        add(rule.station, { rule, metrics: new Set([rule.metric]) }, [rule.metric]);
        break;
      case 'aqi':
        add(rule.station, { rule, metrics: new Set(AQI_METRICS) }, AQI_METRICS);
        break;
      case 'composite':
        for (const c of rule.conditions) {
          const own = rule.conditions.filter((x) => x.station === c.station).map((x) => x.metric);
          add(c.station, { rule, metrics: new Set(own) }, own);
        }
        break;
      case 'sensor-fault':
        // `concerns` hands it every observation of its station; the core picks the watched metrics
        add(rule.station, { rule, metrics: null }, rule.metrics ?? METRIC_NAMES);
        break;
      case 'staleness':
        add(rule.station, { rule, metrics: null }, []);
        break;
      case 'release':
        break; // driven by operators, never by observations
    }
  }
  for (const n of needs.values()) metrics.get(n.station)?.add(n.metric);
  const replayMetrics = new Map<string, MetricName[]>();
  for (const [station, set] of metrics) replayMetrics.set(station, set.size > 0 ? [...set] : [...METRIC_NAMES]);
  return {
    rules,
    of: (station) => byStation.get(station) ?? NONE,
    stations: new Set(byStation.keys()),
    needs,
    metricsOf: (station) => replayMetrics.get(station) ?? [],
  };
}

/** Does the observation concern this indexed rule? (the index already matched the station) */
export function concernsIndexed(entry: IndexedRule, obs: Observation): boolean {
  if (entry.metrics === null) return true;
  for (const v of obs.values) if (entry.metrics.has(v.metric)) return true;
  return false;
}

const EMPTY: readonly Sample[] = [];

/**
 * The rolling windows of an index, by station then metric (no key string built per reading).
 * `add` appends an observation's good readings; a reading at or before a window's last ts is
 * refused there (window.ts `push`), so a replayed reading is never counted twice.
 */
export class WindowSet {
  #slots = new Map<string, Map<string, { need: WindowNeed; window: Window }>>();

  constructor(needs: ReadonlyMap<string, WindowNeed> = new Map()) {
    this.reshape(needs);
  }

  /** Keeps the windows still needed (with their new span), adds empty ones for new needs. */
  reshape(needs: ReadonlyMap<string, WindowNeed>): void {
    const next = new Map<string, Map<string, { need: WindowNeed; window: Window }>>();
    for (const need of needs.values()) {
      let byMetric = next.get(need.station);
      if (!byMetric) next.set(need.station, (byMetric = new Map()));
      byMetric.set(need.metric, { need, window: this.#slots.get(need.station)?.get(need.metric)?.window ?? [] });
    }
    this.#slots = next;
  }

  readonly windowOf = (station: string, metric: string): readonly Sample[] => this.#slots.get(station)?.get(metric)?.window ?? EMPTY;

  /** Replaces a window (warmed from the store). */
  set(station: string, metric: string, window: Window): void {
    const slot = this.#slots.get(station)?.get(metric);
    if (slot) slot.window = window;
  }

  add(obs: Observation): void {
    const byMetric = this.#slots.get(obs.station);
    if (!byMetric) return;
    for (const v of obs.values) {
      if (v.quality !== 'ok') continue;
      const slot = byMetric.get(v.metric);
      if (slot) push(slot.window, { ts: obs.ts, value: v.value }, slot.need.span);
    }
  }

  get size(): number {
    let n = 0;
    for (const m of this.#slots.values()) n += m.size;
    return n;
  }
}
