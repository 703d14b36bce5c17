import type { AlertEvent } from '../contract/alert.ts';
import type { MetricName } from '../contract/metrics.ts';
import { alertKey, type LevelSpec, type Rule } from './schema.ts';
import { rise, sumWithin, type Sample } from './window.ts';

/**
 * Alert quality, measured: what a hydrologist asks of an alerting system after a flood, computed
 * from the readings and the alert history alone (a pure function: the flood replays, the live API
 * and the console all call it).
 *
 * - A **crossing** of level L starts at the first reading that reaches L (the rule's own derived
 *   value: the reading, its rise over the window, or its rolling sum) and lasts until the value
 *   falls below L's value less the rule's hysteresis. A noisy reading hovering at the line is one
 *   crossing, as it is one alert.
 * - It is **alerted** when the rule's alert stands at L or above on the crossing reading, **late**
 *   when it reaches L later within the crossing, **missed** when it never does.
 * - A **false alert** is an event that raises an alert or its level (Alert, or an Update up) while
 *   no crossing of that level is under way in the readings.
 * - An event on a reading newer than the last stored one is **pending**, neither false nor true:
 *   the engine sees a reading before the store's write batch lands, so a report read while a
 *   flood is coming in would otherwise call the newest raise false.
 * - A **flap** is a raise less than `flapWindowMs` after the same alert key resolved.
 * - **Lead time** is how long before the peak of the rule's value the first alert was raised
 *   (per rule), or how long before the highest value while it stood (per alert).
 *
 * Kinds with a value of their own are measured (level, rate, accumulation, rainfall); the others
 * (aqi, staleness, sensor-fault, composite, release) get their alerts and flaps counted only.
 */

export interface QualityOptions {
  /** a raise this soon after the same key resolved is a flap (default 1 h) */
  flapWindowMs?: number;
  /**
   * Count from here (epoch ms): readings and events before it are context only (rolling sums,
   * a crossing or an alert already under way), so a report over a period counts what began in it.
   */
  from?: number;
}
export const DEFAULT_FLAP_WINDOW_MS = 3_600_000;

export interface QualityReading {
  ts: number;
  value: number;
  /** readings flagged out of range never alert, so they neither cross nor count */
  quality?: string;
}
export type ReadingsOf = (station: string, metric: MetricName) => readonly QualityReading[];

export interface Crossing {
  level: number;
  /** the crossing reading */
  ts: number;
  value: number;
  outcome: 'alerted' | 'late' | 'missed';
  /** late: from the crossing reading to the alert reaching its level */
  delayMs?: number;
}

export interface AlertQuality {
  id: string;
  /** observation time of the reading that raised it */
  raisedAt: number;
  resolvedAt: number | null;
  maxLevel: number;
  /** the highest value of the rule while the alert stood (measured kinds) */
  peak: { ts: number; value: number } | null;
  leadTimeMs: number | null;
  falseEvents: number;
}

export interface RuleQuality {
  rule: string;
  kind: Rule['kind'];
  key: string;
  station: string;
  measured: boolean;
  crossings: number;
  alerted: number;
  late: number;
  missed: number;
  falseAlerts: number;
  /** events on readings not yet in the store (judged on the next report) */
  pending: number;
  flaps: number;
  /** the first alert before the peak of the rule's value; null without both */
  leadTimeMs: number | null;
  peak: { ts: number; value: number } | null;
  alerts: AlertQuality[];
  /** every crossing and how it was met (measured kinds) */
  detail: Crossing[];
  /** the events counted as false alerts */
  falseEvents: Array<{ id: string; eventSeq: number; ts: number; level: number }>;
}

export interface QualityReport {
  rules: RuleQuality[];
  totals: { crossings: number; alerted: number; late: number; missed: number; falseAlerts: number; flaps: number; alerts: number };
}

/** One reading seen through a rule: its value, and the levels it enters and holds. */
interface Point {
  ts: number;
  value: number;
  enter: number;
  stay: number;
}

/** Rain sums are rounded to 0.1 mm as the engine rounds them (gauges tip at 0.1–0.2 mm). */
const tenth = (mm: number) => Math.round(mm * 10) / 10;

const MEASURED = new Set<Rule['kind']>(['level', 'rate', 'accumulation', 'rainfall']);

/** Highest level a value enters (≥ its value) and holds (≥ value − hysteresis), rising or falling. */
function zones(levels: readonly LevelSpec[], hysteresis: number, falling: boolean, v: number): [number, number] {
  let enter = 0, stay = 0;
  for (const l of levels) {
    if (falling ? v <= l.value : v >= l.value) enter = Math.max(enter, l.level);
    if (falling ? v <= l.value + hysteresis : v >= l.value - hysteresis) stay = Math.max(stay, l.level);
  }
  return [enter, stay];
}

/** The rule's value at each usable reading, as its engine derives it (rules/README.md "Other kinds"). */
function pointsOf(rule: Rule, readingsOf: ReadingsOf): Point[] {
  if (!MEASURED.has(rule.kind) || !('metric' in rule)) return [];
  const raw = readingsOf(rule.station, rule.metric as MetricName).filter((r) => r.quality === undefined || r.quality === 'ok');
  const sorted = [...raw].sort((a, b) => a.ts - b.ts);
  const samples: Sample[] = sorted.map((r) => ({ ts: r.ts, value: r.value }));
  switch (rule.kind) {
    case 'level': {
      const falling = rule.direction === 'falling';
      // a falling rule's "peak" is its lowest value: measured on the negated value
      return samples.map((s) => { const [enter, stay] = zones(rule.levels, rule.hysteresis, falling, s.value); return { ts: s.ts, value: falling ? -s.value : s.value, enter, stay }; });
    }
    case 'rate':
      return samples.map((s) => {
        const v = Math.round(rise(samples, s.ts, rule.window) * 1000) / 1000;
        const [enter, stay] = zones(rule.levels, rule.hysteresis, false, v);
        return { ts: s.ts, value: v, enter, stay };
      });
    case 'accumulation':
      return samples.map((s) => {
        const v = tenth(sumWithin(samples, s.ts, rule.window));
        const [enter, stay] = zones(rule.levels, rule.hysteresis, false, v);
        return { ts: s.ts, value: v, enter, stay };
      });
    case 'rainfall': {
      // each window has its own classes; the alert stands at the worst class on the rule's one scale
      const longest = Math.max(...rule.windows.map((w) => w.window));
      const rankOf = (window: number, spec: LevelSpec) =>
        (rule.levels.find((l) => l.window === window && l.windowLevel === spec.level)
          ?? rule.levels.find((l) => l.windowLevel === spec.level && spec.severity !== undefined && l.severity === spec.severity)
          ?? rule.levels.find((l) => l.windowLevel === spec.level))?.level ?? 0;
      return samples.map((s) => {
        let enter = 0, stay = 0, value = 0;
        for (const w of rule.windows) {
          const sum = tenth(sumWithin(samples, s.ts, w.window));
          if (w.window === longest) value = sum;
          const [e, st] = zones(w.levels, w.hysteresis ?? rule.hysteresis, false, sum);
          const spec = (n: number) => w.levels.find((l) => l.level === n);
          if (e > 0) enter = Math.max(enter, rankOf(w.window, spec(e)!));
          if (st > 0) stay = Math.max(stay, rankOf(w.window, spec(st)!));
        }
        return { ts: s.ts, value, enter, stay };
      });
    }
    default:
      return [];
  }
}

const observedAt = (e: AlertEvent) => Date.parse(e.source.observedAt);
const ended = (e: AlertEvent) => e.msgType === 'Cancel' || e.status === 'resolved' || e.status === 'cancelled';
/** the level an event leaves the alert at */
const levelAfter = (e: AlertEvent) => (ended(e) ? 0 : e.level);

/** Quality of one rule over its readings and its key's events (every event of every alert, any order). */
export function ruleQuality(rule: Rule, readingsOf: ReadingsOf, events: readonly AlertEvent[], opts: QualityOptions = {}): RuleQuality {
  const flapWindow = opts.flapWindowMs ?? DEFAULT_FLAP_WINDOW_MS;
  const from = opts.from ?? -Infinity;
  const key = alertKey(rule);
  const mine = events.filter((e) => e.key === key).sort((a, b) => observedAt(a) - observedAt(b) || (a.id === b.id ? a.eventSeq - b.eventSeq : Date.parse(a.sent) - Date.parse(b.sent)));
  const points = pointsOf(rule, readingsOf);
  const measured = MEASURED.has(rule.kind);

  // the alert's level over time: after each event (by observation time)
  const steps = mine.map((e) => ({ ts: observedAt(e), level: levelAfter(e), e }));
  const levelAt = (ts: number) => { let l = 0; for (const s of steps) { if (s.ts > ts) break; l = s.level; } return l; };

  // crossings: episodes per level, opened on entering it, closed on falling below its hold
  const detail: Crossing[] = [];
  const episodes: Array<{ level: number; from: number; to: number }> = [];
  const maxLevel = 'levels' in rule && Array.isArray(rule.levels) ? Math.max(0, ...rule.levels.map((l: LevelSpec) => l.level)) : 0;
  const open = new Map<number, { from: number; value: number }>();
  const close = (level: number, to: number) => {
    const ep = open.get(level)!;
    open.delete(level);
    episodes.push({ level, from: ep.from, to });
    const crossing: Crossing = { level, ts: ep.from, value: ep.value, outcome: 'missed' };
    if (levelAt(ep.from) >= level) crossing.outcome = 'alerted';
    else {
      const reached = steps.find((s) => s.ts > ep.from && s.ts <= to && s.level >= level);
      if (reached) Object.assign(crossing, { outcome: 'late', delayMs: reached.ts - ep.from });
    }
    if (ep.from >= from) detail.push(crossing);
  };
  for (const p of points) {
    for (let l = 1; l <= maxLevel; l++) {
      if (!open.has(l) && p.enter >= l) open.set(l, { from: p.ts, value: p.value });
      else if (open.has(l) && p.stay < l) close(l, p.ts);
    }
  }
  for (const l of [...open.keys()]) close(l, Infinity);
  detail.sort((a, b) => a.ts - b.ts || a.level - b.level);

  // false alerts: a raise or a step up with no crossing of that level under way
  const covered = (level: number, ts: number) => episodes.some((ep) => ep.level === level && ep.from <= ts && ts < ep.to);
  const isFalse = new Set<AlertEvent>();
  const lastStored = points.length > 0 ? points[points.length - 1]!.ts : -Infinity;
  let prev = 0, pending = 0;
  for (const s of steps) {
    const up = !ended(s.e) && (s.e.msgType === 'Alert' || s.level > prev);
    if (measured && up && s.ts >= from && s.ts > lastStored) pending++;
    else if (measured && up && s.ts >= from && !covered(s.level, s.ts)) isFalse.add(s.e);
    prev = s.level;
  }

  // flaps: raised again soon after the same key resolved
  let flaps = 0;
  let lastEnd: number | undefined;
  for (const s of steps) {
    if (s.e.msgType === 'Alert' && s.ts >= from && lastEnd !== undefined && s.ts - lastEnd <= flapWindow) flaps++;
    if (ended(s.e) && s.e.status === 'resolved') lastEnd = s.ts;
  }

  const peakIn = (from: number, to: number) => {
    let best: { ts: number; value: number } | null = null;
    for (const p of points) if (p.ts >= from && p.ts <= to && (!best || p.value > best.value)) best = { ts: p.ts, value: p.value };
    return best;
  };
  const sign = rule.kind === 'level' && rule.direction === 'falling' ? -1 : 1;
  const shown = (pk: { ts: number; value: number } | null) => (pk ? { ts: pk.ts, value: sign * pk.value } : null);

  const byId = new Map<string, AlertEvent[]>();
  for (const e of mine) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
  const alerts: AlertQuality[] = [...byId.entries()].map(([id, evs]) => {
    const raisedAt = observedAt(evs.find((e) => e.msgType === 'Alert') ?? evs[0]!);
    const end = evs.find(ended);
    const resolvedAt = end ? observedAt(end) : null;
    const peak = measured ? peakIn(raisedAt, resolvedAt ?? Infinity) : null;
    return {
      id, raisedAt, resolvedAt,
      maxLevel: Math.max(...evs.map((e) => e.level)),
      peak: shown(peak),
      leadTimeMs: peak ? peak.ts - raisedAt : null,
      falseEvents: evs.filter((e) => isFalse.has(e)).length,
    };
  }).filter((a) => a.resolvedAt === null || a.resolvedAt >= from).sort((a, b) => a.raisedAt - b.raisedAt);

  const peak = measured ? peakIn(from, Infinity) : null;
  const firstRaise = steps.find((s) => s.e.msgType === 'Alert' && (!peak || s.ts <= peak.ts));
  const count = (o: Crossing['outcome']) => detail.filter((c) => c.outcome === o).length;
  return {
    rule: rule.id, kind: rule.kind, key, station: rule.station, measured,
    crossings: detail.length, alerted: count('alerted'), late: count('late'), missed: count('missed'),
    falseAlerts: isFalse.size, pending, flaps,
    leadTimeMs: peak && firstRaise ? peak.ts - firstRaise.ts : null,
    peak: shown(peak), alerts, detail,
    falseEvents: steps.filter((st) => isFalse.has(st.e)).map((st) => ({ id: st.e.id, eventSeq: st.e.eventSeq, ts: st.ts, level: st.level })),
  };
}

/** Quality of every rule; rules with neither crossings nor alerts are left out. */
export function alertQuality(rules: readonly Rule[], readingsOf: ReadingsOf, events: readonly AlertEvent[], opts: QualityOptions = {}): QualityReport {
  const out = rules.map((r) => ruleQuality(r, readingsOf, events, opts)).filter((q) => q.crossings > 0 || q.alerts.length > 0);
  const sum = (f: (q: RuleQuality) => number) => out.reduce((a, q) => a + f(q), 0);
  return {
    rules: out,
    totals: {
      crossings: sum((q) => q.crossings), alerted: sum((q) => q.alerted), late: sum((q) => q.late), missed: sum((q) => q.missed),
      falseAlerts: sum((q) => q.falseAlerts), flaps: sum((q) => q.flaps), alerts: sum((q) => q.alerts.length),
    },
  };
}
