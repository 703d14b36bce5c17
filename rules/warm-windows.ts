import { qualityOf } from '../contract/metrics.ts';
import type { Logger } from '../lib/log.ts';
import type { TimeSeriesStore } from '../store/types.ts';
import type { EngineMetrics } from './engine-metrics.ts';
import type { RuleIndex, WindowSet } from './rule-index.ts';
import { push, type Window } from './window.ts';

/** how often windows the store could not fill at start are tried again (from the tick) */
const WARM_RETRY_MS = 30_000;

export interface WindowWarmer {
  /** windows the store could not fill: a cold window may raise an alert, never lower or end one */
  readonly cold: ReadonlySet<string>;
  warm(keys: Iterable<string>, upTo?: ReadonlyMap<string, number>): Promise<void>;
  /** from the tick: the cold windows again, every WARM_RETRY_MS */
  retryCold(now: number): Promise<void>;
}

/**
 * Rolling windows from the time-series store, so a restart does not forget the last 24 h. A store
 * that cannot answer (InfluxDB down at start) must not keep the engine from starting: level rules
 * need no history. The windows it could not fill stay cold and are filled on later ticks, merged
 * under the readings that arrived meanwhile. `upTo` (per station, exclusive): where the replay of
 * readings never evaluated takes over, so none is counted twice.
 */
export function createWindowWarmer(opts: {
  series: Pick<TimeSeriesStore, 'series'> | undefined;
  windows: WindowSet;
  index(): RuleIndex;
  clock: { now(): number };
  m: EngineMetrics;
  log: Logger;
}): WindowWarmer {
  const { windows, m, log } = opts;
  const cold = new Set<string>();
  let lastWarmAttempt = 0;

  async function warm(keys: Iterable<string>, upTo: ReadonlyMap<string, number> = new Map()): Promise<void> {
    if (!opts.series) return;
    const now = opts.clock.now();
    lastWarmAttempt = now;
    for (const k of keys) {
      const need = opts.index().needs.get(k);
      if (!need) {
        cold.delete(k);
        continue;
      }
      let points: Array<{ ts: number; value: number }>;
      try {
        points = await opts.series.series({ station: need.station, metric: need.metric, from: now - need.span, to: upTo.get(need.station) ?? now + 1 });
      } catch (err) {
        if (!cold.has(k)) log.warn({ err, station: need.station, metric: need.metric }, 'window not warmed: the store did not answer; accumulations and rates under-count until it does');
        cold.add(k);
        continue;
      }
      const live = windows.windowOf(need.station, need.metric);
      const firstLive = live[0]?.ts ?? Infinity;
      const w: Window = [];
      // series() carries no quality flag: out-of-range values are filtered as ingest flags them.
      for (const p of points) if (p.ts < firstLive && qualityOf(need.metric, p.value) === 'ok') push(w, p, need.span);
      for (const p of live) push(w, p, need.span);
      windows.set(need.station, need.metric, w);
      if (cold.delete(k)) log.info({ station: need.station, metric: need.metric }, 'window warmed from the store');
    }
    m.coldWindows.set(cold.size);
  }

  return {
    cold,
    warm,
    async retryCold(now) {
      if (cold.size > 0 && now - lastWarmAttempt >= WARM_RETRY_MS) await warm([...cold]);
    },
  };
}
