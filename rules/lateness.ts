import type { StationKind } from '../contract/station.ts';
import type { LevelResult, LevelState } from './level.ts';

/**
 * Current or late (issue #12.2). A reading is judged by the observation's own time (`ts`), so a
 * replay gives the same transitions; whether it may speak for *now* is judged by how long after
 * `ts` the platform received it. One that arrived more than `maxLag` late (a store-and-forward
 * flush after an outage, a new station's first reading hours old) is stored, shown in history and
 * counted in its rolling windows (an old rain reading belongs to the 24 h sum of its time), and
 * the rule records its time (`lastTs`), but it never raises, escalates, lowers or ends an alert,
 * and it neither starts nor cancels a pending change: only current readings do that.
 */

const H = 3_600_000;

/**
 * How late a reading may arrive and still count as current, by station kind, unless a rule sets
 * `maxLag`. Rivers: 1 h (a flood wave moves metres in a few hours; an hour-old stage is the last
 * the IOC would act on). Rain: 1 h (the shortest intensity window). Reservoirs: 2 h (levels move
 * centimetres an hour; reported every 15 min). Air: 3 h (hourly means, published with delay). Weather: 3 h (the fire index is daily).
 */
export const DEFAULT_MAX_LAG: Readonly<Record<StationKind, number>> = Object.freeze({ river: H, rain: H, reservoir: 2 * H, air: 3 * H, weather: 3 * H });

/** The rule's own `maxLag`, else its station kind's default, else an hour. */
export function maxLagOf(rule: { maxLag?: number | undefined }, kind: StationKind | undefined): number {
  return rule.maxLag ?? (kind ? DEFAULT_MAX_LAG[kind] : H);
}

/** Received more than `maxLag` after it was observed. */
export function arrivedLate(ts: number, receivedAt: number, maxLag: number): boolean {
  return receivedAt - ts > maxLag;
}

/**
 * What a late reading leaves of a rule's step: its time is recorded (an older reading after it is
 * late in the other sense, `ts ≤ lastTs`), nothing else. A step that already ignored the reading
 * is returned as it is.
 */
export function asLate<R extends LevelResult>(state: LevelState, res: R): LevelResult {
  if (res.ignored) return res;
  const lastTs = res.state.lastTs;
  return { state: lastTs === state.lastTs ? state : { ...state, lastTs }, ignored: 'not-current' };
}
