import type { LevelSpec } from './schema.ts';

/**
 * Level thresholds: the pure core. No clock, no I/O: time is the observation's own `ts`, so a
 * replayed hydrograph gives the same transitions as the live one (STYLE.md "pure core with injected
 * time"). Modelled on Signal K zones: a level maps a value to an ordered state, and only a change of
 * state is an event; going back to normal is an explicit event (resolve).
 */

/** Plain JSON so it can be persisted as is (StateStore json namespace 'rule-state'). */
/**
 * What the zones machine needs from a rule. Every kind that maps a value to ordered levels (level,
 * rate, accumulation, aqi, composite, sensor-fault) derives its value and runs it through here, so
 * hysteresis, hold times and the late-reading guard are written once.
 */
export interface LevelMachine {
  levels: readonly Pick<LevelSpec, 'level' | 'value'>[];
  hysteresis: number;
  holdRise: number;
  holdFall: number;
  /** 'falling': a level is passed from above (reservoir below its dead level) */
  direction?: 'rising' | 'falling';
}

export interface LevelState {
  /** level in force, 0 = none */
  level: number;
  /** ts of the last accepted observation, epoch ms; older or equal ones are ignored */
  lastTs: number | null;
  /** value of the last accepted observation (for the trend) */
  lastValue: number | null;
  /** a change waiting for its hold time; `since` is the ts of its first reading */
  pending: { dir: 'rise' | 'fall'; level: number; since: number } | null;
}

export interface LevelReading {
  ts: number;
  value: number;
  quality: 'ok' | 'out_of_range';
}

export type TransitionKind = 'raise' | 'escalate' | 'deescalate' | 'resolve';
export type Trend = 'rising' | 'falling' | 'steady';

export interface LevelTransition {
  from: number;
  to: number;
  kind: TransitionKind;
  /** the alarm value of the level now in force; on resolve, the value of the lowest level */
  threshold: number;
  value: number;
  ts: number;
  /** against the previous accepted reading */
  trend: Trend;
}

export interface LevelResult {
  state: LevelState;
  transition?: LevelTransition;
  /**
   * why the reading was not evaluated: `late` (ts ≤ lastTs), `quality` (out of range),
   * `not-current` (it arrived more than the rule's maxLag after its ts: lateness.ts)
   */
  ignored?: 'late' | 'quality' | 'not-current';
}

export const initialLevelState = (): LevelState => ({ level: 0, lastTs: null, lastValue: null, pending: null });

/** Changes smaller than this (metric units) read as steady: gauges read to the centimetre. */
const TREND_EPSILON = 0.005;

/**
 * The machine of a rule in one object shape, whatever the rule's kind: rules parsed from the file
 * differ in shape by kind (and their levels by optional fields), which would make this loop, run
 * for every reading of every rule, megamorphic. Built once per rule (rules are never mutated).
 */
const machines = new WeakMap<LevelMachine, Required<LevelMachine>>();
function machineOf(rule: LevelMachine): Required<LevelMachine> {
  let m = machines.get(rule);
  if (!m) {
    m = { levels: rule.levels.map((l) => ({ level: l.level, value: l.value })), hysteresis: rule.hysteresis, holdRise: rule.holdRise, holdFall: rule.holdFall, direction: rule.direction ?? 'rising' };
    machines.set(rule, m);
  }
  return m;
}

export function evaluateLevel(machine: LevelMachine, state: LevelState, obs: LevelReading): LevelResult {
  const rule = machineOf(machine);
  // A reading for a moment already past can neither raise nor clear anything (replays, redelivery).
  if (state.lastTs !== null && obs.ts <= state.lastTs) return { state, ignored: 'late' };
  // Out-of-range values are kept by ingest but never trigger (DESIGN.md "Wire contract"); they
  // neither confirm nor cancel a pending change.
  if (obs.quality !== 'ok' || !Number.isFinite(obs.value)) return { state: { ...state, lastTs: obs.ts }, ignored: 'quality' };

  const v = orient(rule, obs.value);
  const next: LevelState = { ...state, lastTs: obs.ts, lastValue: obs.value };
  const current = state.level;
  const up = highestLevel(rule, v, 0);

  if (up > current) {
    const since = state.pending?.dir === 'rise' ? state.pending.since : obs.ts;
    if (obs.ts - since >= rule.holdRise) return fire(rule, state, next, up, obs);
    next.pending = { dir: 'rise', level: up, since };
    return { state: next };
  }

  // The level in force holds while the reading stays at or above its value − hysteresis.
  if (current === 0 || v >= orient(rule, valueOf(rule, current)) - rule.hysteresis) {
    next.pending = null;
    return { state: next };
  }
  const down = highestLevel(rule, v, rule.hysteresis);
  const since = state.pending?.dir === 'fall' ? state.pending.since : obs.ts;
  if (obs.ts - since >= rule.holdFall) return fire(rule, state, next, down, obs);
  next.pending = { dir: 'fall', level: down, since };
  return { state: next };
}

function fire(rule: LevelMachine, prev: LevelState, next: LevelState, to: number, obs: LevelReading): LevelResult {
  const from = prev.level;
  const kind: TransitionKind = from === 0 ? 'raise' : to === 0 ? 'resolve' : to > from ? 'escalate' : 'deescalate';
  const threshold = to === 0 ? rule.levels[0]!.value : valueOf(rule, to);
  // The trend of the value itself (a reservoir sinking below its dead level is 'falling').
  const worse = to > from ? 1 : -1;
  const delta = prev.lastValue === null ? orient(rule, worse) : obs.value - prev.lastValue;
  const trend: Trend = delta > TREND_EPSILON ? 'rising' : delta < -TREND_EPSILON ? 'falling' : 'steady';
  return { state: { ...next, level: to, pending: null }, transition: { from, to, kind, threshold, value: obs.value, ts: obs.ts, trend } };
}

/** Values in a space where "worse" is always larger: a falling rule negates them. */
function orient(rule: LevelMachine, value: number): number {
  return rule.direction === 'falling' ? -value : value;
}

/** The highest level whose (oriented) value − `hysteresis` ≤ v; a loop, no closure per reading. */
function highestLevel(rule: LevelMachine, v: number, hysteresis: number): number {
  let level = 0;
  for (const spec of rule.levels) if (orient(rule, spec.value) - hysteresis <= v) level = spec.level;
  return level;
}

/**
 * The alarm value of a level. A level missing from the rule (the file was edited while the level
 * was in force) holds at the value of the nearest defined level below it.
 */
export function valueOf(rule: LevelMachine, level: number): number {
  let value = rule.levels[0]!.value;
  for (const spec of rule.levels) if (spec.level <= level) value = spec.value;
  return value;
}
