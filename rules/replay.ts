import { METRICS, qualityOf, type MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import type { TimeSeriesStore } from '../store/types.ts';
import type { RuleIndex } from './rule-index.ts';

/**
 * Readings that were stored but never evaluated: ingest acknowledged them (PUBACK = durable,
 * DESIGN.md "Data-path invariants") but the engine was killed before its rule state, flushed every
 * `stateFlushMs`, recorded them. At start the engine reads, per station, what is newer than the
 * oldest `lastTs` of that station's rules and evaluates it in time order before live readings.
 */

/** How far back a replay reaches at most: the longest window (rain over 24 h). */
export const REPLAY_MAX_MS = 24 * 3_600_000;
/**
 * How far back it reaches for a station whose rules recorded nothing yet: readings can be stored
 * and acknowledged before the first flush of rule state (a new station killed within 250 ms of
 * its first readings). An hour: what the rules take as current at most.
 */
export const REPLAY_WITHOUT_STATE_MS = 3_600_000;

export interface ReplayPlan {
  /** per station: replayed from this ts (inclusive); windows are warmed up to it (exclusive) */
  from: Map<string, number>;
  /** the readings to evaluate, merged by station and ts into observations, in ts order */
  observations: Observation[];
}

/**
 * `lastTsOf(station)`: the smallest persisted lastTs of the station's rules, or null when none has
 * one (then the last REPLAY_WITHOUT_STATE_MS are read). A station whose read fails is left
 * out (logged by the caller through `onError`): its windows are warmed whole and nothing replayed.
 */
export async function readReplay(
  series: Pick<TimeSeriesStore, 'series'>,
  index: RuleIndex,
  lastTsOf: (station: string) => number | null,
  now: number,
  onError: (station: string, err: unknown) => void,
): Promise<ReplayPlan> {
  const from = new Map<string, number>();
  const observations: Observation[] = [];
  for (const station of index.stations) {
    const last = lastTsOf(station);
    const start = last === null ? now - REPLAY_WITHOUT_STATE_MS : Math.max(last + 1, now - REPLAY_MAX_MS);
    if (start > now) continue;
    const byTs = new Map<number, Observation>();
    try {
      for (const metric of index.metricsOf(station)) {
        for (const p of await series.series({ station, metric, from: start, to: now + 1 })) {
          let obs = byTs.get(p.ts);
          if (!obs) byTs.set(p.ts, (obs = { station, device: 'store-replay', ts: p.ts, values: [] }));
          obs.values.push(valueOf(metric, p.value));
        }
      }
    } catch (err) {
      onError(station, err);
      continue;
    }
    from.set(station, start);
    observations.push(...byTs.values());
  }
  // ts order across stations (composite rules read several); a stable sort keeps stations in index order
  observations.sort((a, b) => a.ts - b.ts);
  return { from, observations };
}

function valueOf(metric: MetricName, value: number): Observation['values'][number] {
  // series() carries no quality flag: it is recomputed as ingest computed it
  return { metric, value, unit: METRICS[metric].unit, quality: qualityOf(metric, value) };
}
