import { describe, expect, it } from 'vitest';
import { evaluateLevel, initialLevelState, type LevelReading, type LevelState, type LevelTransition } from './level.ts';
import { levelRule, type LevelRule } from './schema.ts';

const T0 = Date.parse('2025-10-30T00:00:00Z');
const MIN = 60_000;

function kimLong(over: Record<string, unknown> = {}): LevelRule {
  return levelRule.parse({
    id: 'flood-kim-long', kind: 'level', station: 'kim-long', metric: 'water_level', event: { vi: 'Lũ', en: 'Flood' },
    levels: [{ level: 1, value: 1.0 }, { level: 2, value: 2.0 }, { level: 3, value: 3.5 }],
    hysteresis: 0.05, holdFall: '15m', ...over,
  }) as LevelRule;
}

/** Feeds [minute, value] readings; returns the transitions as compact tuples and the final state. */
function replay(rule: LevelRule, series: Array<[number, number, LevelReading['quality']?]>, start: LevelState = initialLevelState()) {
  let state = start;
  const transitions: LevelTransition[] = [];
  for (const [minute, value, quality] of series) {
    const res = evaluateLevel(rule, state, { ts: T0 + minute * MIN, value, quality: quality ?? 'ok' });
    state = res.state;
    if (res.transition) transitions.push(res.transition);
  }
  return { state, transitions, summary: transitions.map((t) => [t.kind, t.from, t.to, t.value] as const) };
}

describe('evaluateLevel (level thresholds)', () => {
  it('a replayed hydrograph rising through levels 1, 2 and 3 and receding yields exactly the expected transitions', () => {
    const hydrograph: Array<[number, number]> = [
      [0, 0.5], [10, 0.8], [20, 1.0], [30, 1.4], [40, 1.9], [50, 2.0], [60, 2.8], [70, 3.4], [80, 3.6], [90, 3.72], // peak
      [100, 3.6], [110, 3.47], [120, 3.4], [130, 3.3], [140, 3.2], [150, 2.5], [160, 1.96], [170, 1.9], [180, 1.8], [190, 1.7],
      [200, 1.2], [210, 0.96], [220, 0.94], [230, 0.9], [240, 0.85], [250, 0.7],
    ];
    const { summary, transitions, state } = replay(kimLong(), hydrograph);
    expect(summary).toEqual([
      ['raise', 0, 1, 1.0], // the first reading at the level fires (holdRise 0)
      ['escalate', 1, 2, 2.0],
      ['escalate', 2, 3, 3.6],
      ['deescalate', 3, 2, 3.2], // below 3.45 since minute 120, held 20 min ≥ 15 min
      ['deescalate', 2, 1, 1.7], // below 1.95 since minute 170
      ['resolve', 1, 0, 0.85], // below 0.95 since minute 220
    ]);
    expect(transitions.map((t) => t.threshold)).toEqual([1.0, 2.0, 3.5, 2.0, 1.0, 1.0]);
    expect(transitions[2]).toMatchObject({ ts: T0 + 80 * MIN, trend: 'rising' });
    expect(transitions[5]).toMatchObject({ ts: T0 + 240 * MIN, trend: 'falling' });
    expect(state).toMatchObject({ level: 0, pending: null, lastValue: 0.7 });
  });

  it('a reading that reaches level 3 from nothing raises straight to level 3', () => {
    expect(replay(kimLong(), [[0, 0.4], [60, 3.5]]).summary).toEqual([['raise', 0, 3, 3.5]]);
  });

  it('a fast recession goes straight to the level the reading still supports', () => {
    const { summary } = replay(kimLong(), [[0, 3.6], [10, 1.2], [20, 1.1], [30, 1.0]]);
    expect(summary).toEqual([['raise', 0, 3, 3.6], ['deescalate', 3, 1, 1.0]]);
  });

  it('a noisy signal around a level does not flap, thanks to hysteresis and holdFall', () => {
    // ±8 cm of wave noise around 2.0 m every 5 minutes: dips below 1.95 never last 15 minutes.
    const noise = [0.06, -0.08, 0.03, -0.07, 0.04, -0.02, -0.06, 0.05, -0.09, 0.01, -0.03, 0.08, -0.07, 0.02];
    const series = noise.map((d, i) => [i * 5, 2.0 + d] as [number, number]);
    expect(replay(kimLong(), series).summary).toEqual([['raise', 0, 2, 2.06]]);
    // The same signal without hysteresis and hold would alert again and again.
    const naive = replay(kimLong({ hysteresis: 0, holdFall: '0s' }), series);
    expect(naive.transitions.length).toBeGreaterThan(6);
  });

  it('a reading back up cancels a pending drop, and the hold starts again on the next dip', () => {
    const { summary } = replay(kimLong(), [[0, 1.2], [10, 0.9], [20, 1.0], [30, 0.9], [40, 0.9], [44, 0.9], [45, 0.9]]);
    expect(summary).toEqual([['raise', 0, 1, 1.2], ['resolve', 1, 0, 0.9]]);
    expect(replay(kimLong(), [[0, 1.2], [10, 0.9], [20, 1.0], [30, 0.9], [44, 0.9]]).summary).toEqual([['raise', 0, 1, 1.2]]);
  });

  it('late and replayed readings are ignored: they neither raise an alert for a moment past nor clear a live one', () => {
    const live = replay(kimLong(), [[0, 1.5], [60, 1.6]]);
    for (const [minute, value] of [[30, 3.9], [60, 3.9], [59, 0.1]] as const) {
      const res = evaluateLevel(kimLong(), live.state, { ts: T0 + minute * MIN, value, quality: 'ok' });
      expect(res.ignored).toBe('late');
      expect(res.transition).toBeUndefined();
      expect(res.state).toBe(live.state);
    }
  });

  it('out_of_range readings never trigger and do not disturb a pending drop', () => {
    const high = replay(kimLong(), [[0, 0.5], [10, 150, 'out_of_range']]);
    expect(high.summary).toEqual([]);
    expect(high.state.level).toBe(0);
    // pending drop since minute 10; the bad reading at 20 neither cancels nor confirms it
    const drop = replay(kimLong(), [[0, 1.2], [10, 0.9], [20, -50, 'out_of_range'], [25, 0.9]]);
    expect(drop.summary).toEqual([['raise', 0, 1, 1.2], ['resolve', 1, 0, 0.9]]);
  });

  it('with holdRise a level fires only after the reading has stayed at or above it that long', () => {
    const rule = kimLong({ holdRise: '10m' });
    expect(replay(rule, [[0, 1.1], [5, 1.2], [10, 1.3]]).summary).toEqual([['raise', 0, 1, 1.3]]);
    expect(replay(rule, [[0, 1.1], [5, 0.9], [10, 1.3]]).summary).toEqual([]);
  });

  it('state is plain JSON: a persisted and reloaded state continues exactly where it was', () => {
    const rule = kimLong();
    const first = replay(rule, [[0, 1.2], [10, 0.9]]);
    expect(first.state.pending).toEqual({ dir: 'fall', level: 0, since: T0 + 10 * MIN });
    const restored = JSON.parse(JSON.stringify(first.state)) as LevelState;
    expect(replay(rule, [[25, 0.9]], restored).summary).toEqual([['resolve', 1, 0, 0.9]]);
  });
});
