import type { LevelState, LevelTransition } from './level.ts';
import type { StalenessRule } from './schema.ts';

/**
 * Staleness: a station silent for longer than `maxSilence` is offline, a condition distinct from a
 * bad value (Signal K: a stale sensor is not an alarm value). Time-driven: the engine calls `tick`
 * from its scheduler with the injected clock, and `seen` on every observation. Silence is counted
 * in receive time (issue #12.6): a device flushing hours-old readings is talking, not offline.
 * Plain JSON state (LevelState: level 0/1, lastTs = when the station was last heard from).
 */

export interface StalenessResult {
  state: LevelState;
  transition?: LevelTransition;
}

const MIN = 60_000;

/** On a clock tick: raise once the station was last heard from longer than maxSilence ago. */
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
 * On an observation, `heardAt` = when it was received (the engine passes the observation's
 * `receivedAt`; a replayed reading, whose receipt is not known, its own ts). The alert ends
 * when the station is heard from recently again.
 */
export function stalenessSeen(rule: StalenessRule, state: LevelState, heardAt: number, now: number): StalenessResult {
  const ts = heardAt;
  if (state.lastTs !== null && ts <= state.lastTs) return { state };
  const next: LevelState = { ...state, lastTs: ts };
  if (state.level === 0 || now - ts > rule.maxSilence) return { state: next };
  return {
    state: { ...next, level: 0 },
    transition: { from: 1, to: 0, kind: 'resolve', threshold: rule.maxSilence / MIN, value: Math.max(0, Math.round((now - ts) / MIN)), ts, trend: 'steady' },
  };
}
