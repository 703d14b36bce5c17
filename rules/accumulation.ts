import { evaluateLevel, type LevelReading, type LevelResult, type LevelState } from './level.ts';
import type { AccumulationRule } from './schema.ts';
import { sumWithin, type Sample } from './window.ts';

/**
 * Rolling accumulation: rain over 1, 3, 6, 12 or 24 h against the classes and intensity warnings of
 * the hydro-meteorological service (config/vn-standards.json `rainfall`). `rainfall` is mm in the
 * interval ending at ts, so the window (ts − span, ts] sums exactly the rain that fell in it.
 * The window must hold the reading itself (the engine appends it before evaluating).
 */
export function evaluateAccumulation(rule: AccumulationRule, state: LevelState, window: readonly Sample[], reading: LevelReading): LevelResult {
  if (reading.quality !== 'ok') return evaluateLevel(rule, state, reading);
  const total = Math.round(sumWithin(window, reading.ts, rule.window) * 10) / 10; // gauges tip at 0.1–0.2 mm
  return evaluateLevel(rule, state, { ...reading, value: total });
}
