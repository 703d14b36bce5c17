import type { Severity } from '../contract/alert.ts';
import { defaultSeverity } from './severity.ts';
import { evaluateLevel, initialLevelState, valueOf, type LevelMachine, type LevelReading, type LevelResult, type LevelState, type LevelTransition, type Trend } from './level.ts';
import type { LevelSpec, RainfallRule, RainLevel, RainWindow } from './schema.ts';
import { sumWithin, type Sample } from './window.ts';

/**
 * Rain over several rolling windows (1, 3, 6, 12, 24 h), ONE alert per gauge: each window runs
 * its own zones machine (level.ts: its classes, hysteresis and holds), and the alert stands at the
 * worst class across the windows. "Worst" is one ordered scale over every window's classes: by
 * CAP severity, then by the window's own level number; classes equal on both share a rank (24 h
 * "Mưa vừa" and 12 h "Mưa vừa" are the same class for a resident). The alert rises, is updated as
 * the worst class changes and ends only when every window is back below its first class.
 */

const SEVERITY_ORDER: readonly Severity[] = ['Unknown', 'Minor', 'Moderate', 'Severe', 'Extreme'];
const severityOf = (spec: LevelSpec): Severity => spec.severity ?? defaultSeverity(spec.level);

/**
 * The combined scale: one level per distinct (severity, window level), ranked from 1. Each stands
 * for the first window class (in file order) at that rank; load.ts puts it in the rule's `levels`.
 */
export function rainScale(windows: readonly RainWindow[]): RainLevel[] {
  const entries = windows.flatMap((w) => w.levels.map((spec) => ({ w, spec, sev: SEVERITY_ORDER.indexOf(severityOf(spec)) })));
  entries.sort((a, b) => a.sev - b.sev || a.spec.level - b.spec.level); // stable: file order among equals
  const scale: RainLevel[] = [];
  let last: (typeof entries)[number] | undefined;
  for (const e of entries) {
    if (last && last.sev === e.sev && last.spec.level === e.spec.level) continue;
    scale.push({ ...e.spec, severity: severityOf(e.spec), level: scale.length + 1, window: e.w.window, windowLevel: e.spec.level });
    last = e;
  }
  return scale;
}

/** What the rule's windows need at run time, built once per rule (rules are never mutated). */
interface Compiled {
  windows: Array<{ span: number; key: string; machine: LevelMachine; levels: readonly LevelSpec[]; rankOf: (level: number) => number }>;
}
const compiled = new WeakMap<RainfallRule, Compiled>();
function compile(rule: RainfallRule): Compiled {
  let c = compiled.get(rule);
  if (c) return c;
  c = {
    windows: rule.windows.map((w) => {
      const sevRank = (spec: LevelSpec) => SEVERITY_ORDER.indexOf(severityOf(spec));
      const rankBy = new Map(w.levels.map((spec) => [spec.level, rule.levels.find((l) => sevRank(l) === sevRank(spec) && l.windowLevel === spec.level)?.level ?? 0]));
      return {
        span: w.window,
        key: String(w.window),
        machine: { levels: w.levels, hysteresis: w.hysteresis ?? rule.hysteresis, holdRise: w.holdRise ?? rule.holdRise, holdFall: w.holdFall ?? rule.holdFall },
        levels: w.levels,
        // a level the file no longer has (edited while in force) ranks as the nearest one below it
        rankOf: (level: number) => {
          let rank = 0;
          for (const spec of w.levels) if (spec.level <= level) rank = rankBy.get(spec.level) ?? 0;
          return rank;
        },
      };
    }),
  };
  compiled.set(rule, c);
  return c;
}

/** The combined state: `level` is the rank in force; each window's own machine state by its span (ms). */
export interface RainfallState extends LevelState {
  windows?: Record<string, LevelState>;
}

/** One window as an alert shows it: its sum and its own class (0 = below its first class). */
export interface RainWindowReading {
  /** ms */
  window: number;
  sum: number;
  level: number;
  name?: { vi: string; en: string };
  /** the value of its class in force (mm) */
  threshold?: number;
}

export interface RainfallResult extends LevelResult {
  /** on a transition: the window that decides (the worst; on an end, the last that held) and every window */
  rain?: { window: number; windows: RainWindowReading[] };
}

/** The window rounds to 0.1 mm: gauges tip at 0.1–0.2 mm. */
const sumOf = (window: readonly Sample[], end: number, span: number) => Math.round(sumWithin(window, end, span) * 10) / 10;

/**
 * One reading through every window. `window` holds the station's readings (the engine appends this
 * one before evaluating) over at least the longest span.
 */
export function evaluateRainfall(rule: RainfallRule, state: RainfallState, window: readonly Sample[], reading: LevelReading): RainfallResult {
  if (state.lastTs !== null && reading.ts <= state.lastTs) return { state, ignored: 'late' };
  if (reading.quality !== 'ok' || !Number.isFinite(reading.value)) return { state: { ...state, lastTs: reading.ts }, ignored: 'quality' };
  const c = compile(rule);
  const before = state.windows ?? {};
  const after: Record<string, LevelState> = {};
  const sums: number[] = [];
  let worst = -1, worstRank = 0, prevWorst = -1, prevRank = 0, falling = false, rising = false;
  c.windows.forEach((w, i) => {
    const prev = before[w.key] ?? initialLevelState();
    const sum = sumOf(window, reading.ts, w.span);
    const res = evaluateLevel(w.machine, prev, { ts: reading.ts, value: sum, quality: 'ok' });
    after[w.key] = res.state;
    sums.push(sum);
    const rank = w.rankOf(res.state.level);
    if (rank > worstRank) [worst, worstRank] = [i, rank];
    const was = w.rankOf(prev.level);
    if (was > prevRank) [prevWorst, prevRank] = [i, was];
    if (res.state.level < prev.level || res.state.pending?.dir === 'fall') falling = true;
    if (res.state.pending?.dir === 'rise') rising = true;
  });
  const decisive = worst >= 0 ? worst : prevWorst >= 0 ? prevWorst : 0;
  const next: RainfallState = {
    level: worstRank,
    lastTs: reading.ts,
    lastValue: sums[decisive]!,
    // for the engine: a window going down (or about to) must not be taken from a cold window
    pending: falling ? { dir: 'fall', level: worstRank, since: reading.ts } : rising ? { dir: 'rise', level: worstRank, since: reading.ts } : null,
    windows: after,
  };
  if (worstRank === state.level) return { state: next };

  const from = state.level, to = worstRank;
  const d = c.windows[decisive]!;
  const dLevel = after[d.key]!.level;
  const prevSum = before[d.key]?.lastValue ?? null;
  const delta = prevSum === null ? (to > from ? 1 : -1) : sums[decisive]! - prevSum;
  const trend: Trend = delta > 0.05 ? 'rising' : delta < -0.05 ? 'falling' : 'steady';
  const transition: LevelTransition = {
    from, to,
    kind: from === 0 ? 'raise' : to === 0 ? 'resolve' : to > from ? 'escalate' : 'deescalate',
    threshold: to === 0 || dLevel === 0 ? d.levels[0]!.value : valueOf(d.machine, dLevel),
    value: sums[decisive]!,
    ts: reading.ts,
    trend,
  };
  const windows = c.windows.map((w, i): RainWindowReading => {
    const level = after[w.key]!.level;
    const spec = level > 0 ? [...w.levels].reverse().find((l) => l.level <= level) : undefined;
    return { window: w.span, sum: sums[i]!, level, ...(spec?.name ? { name: spec.name } : {}), ...(spec ? { threshold: spec.value } : {}) };
  });
  return { state: next, transition, rain: { window: d.span, windows } };
}
