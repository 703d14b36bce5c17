import type { LevelState, LevelTransition } from './level.ts';
import type { StalenessRule } from './schema.ts';

/**
 * Staleness: a station silent for longer than `maxSilence` is offline, a condition distinct from a
 * bad value (Signal K: a stale sensor is not an alarm value). Time-driven: the engine calls `tick`
 * from its scheduler with the injected clock, and `seen` on every observation. Plain JSON state
 * (LevelState: level 0/1, lastTs = newest observation time).
 */

export interface StalenessResult {
  state: LevelState;
  transition?: LevelTransition;
}

const MIN = 60_000;

/** On a clock tick: raise once the newest observation is older than maxSilence. */
export function stalenessTick(rule: StalenessRule, state: LevelState, now: number): StalenessResult {
  // Never heard from since the rule exists: the silence counts from the first tick.
  if (state.lastTs === null) return { state: { ...state, lastTs: now } };
  const silence = now - state.lastTs;
  if (state.level !== 0 || silence <= rule.maxSilence) return { state };
  return {
    state: { ...state, level: 1, pending: null },
    transition: { from: 0, to: 1, kind: 'raise', threshold: rule.maxSilence / MIN, value: Math.round(silence / MIN), ts: state.lastTs, trend: 'steady' },
  };
}

/**
 * On an observation (store-and-forward flushes included): the newest ts counts. The alert ends
 * only when the data is recent again, so an old flush does not end it.
 */
export function stalenessSeen(rule: StalenessRule, state: LevelState, ts: number, now: number): StalenessResult {
  if (state.lastTs !== null && ts <= state.lastTs) return { state };
  const next: LevelState = { ...state, lastTs: ts };
  if (state.level === 0 || now - ts > rule.maxSilence) return { state: next };
  return {
    state: { ...next, level: 0 },
    transition: { from: 1, to: 0, kind: 'resolve', threshold: rule.maxSilence / MIN, value: Math.max(0, Math.round((now - ts) / MIN)), ts, trend: 'steady' },
  };
}
