import { evaluateLevel, type LevelReading, type LevelResult, type LevelState } from './level.ts';
import type { RateRule } from './schema.ts';
import { rise, type Sample } from './window.ts';

/**
 * Rate of rise: "the river rose more than X m in Y minutes", which warns before any alarm level
 * and is the only watch on rivers without decreed levels (Phong Bình on the Ô Lâu, Cầu Truồi).
 * The derived value is the reading minus the lowest reading of the window (window includes the
 * reading); it runs through the shared zones machine, so hysteresis and holds apply to the rise.
 */
export function evaluateRate(rule: RateRule, state: LevelState, window: readonly Sample[], reading: LevelReading): LevelResult {
  if (reading.quality !== 'ok') return evaluateLevel(rule, state, reading);
  return evaluateLevel(rule, state, { ...reading, value: round(rise(window, reading.ts, rule.window)) });
}

/** Gauges read to the millimetre; rounding keeps 0.30000000000000004 out of texts and thresholds. */
const round = (x: number) => Math.round(x * 1000) / 1000;
