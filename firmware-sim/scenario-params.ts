import { z } from 'zod';
import type { MetricName } from '../contract/metrics.ts';

/** The simulator's scenarios and their parameters (a module of its own: scenarios.ts and weather.ts both build on it). */

/**
 * `calm`, `flood` (a synthetic flood compressed into ~5.5 simulated hours) and replays of recorded
 * Huế floods (`flood-2017`, `flood-2020`, `flood-2025`: floods/, in their real time line), and
 * `dry-season`: calm rivers, while the weather stations upload a dry spell's logger memory and
 * report hot, dry afternoons, so the forest-fire index climbs to level V (weather.ts).
 */
export const scenarioName = z.enum(['calm', 'flood', 'flood-2017', 'flood-2020', 'flood-2025', 'dry-season']);
export type ScenarioName = z.infer<typeof scenarioName>;

const HOUR = 3600;

/** Durations in simulated seconds. The defaults compress the flood into ~5.5 simulated hours. */
export const scenarioOptions = z.object({
  seed: z.number().int().default(1),
  /** calm time before the river starts to rise */
  floodStartS: z.number().nonnegative().default(0.5 * HOUR),
  /** from the start of the rise to the peak */
  riseS: z.number().positive().default(2 * HOUR),
  /** from the peak back to the calm baseline: recession is slower than the rise, as on the Hương */
  recessionS: z.number().positive().default(3 * HOUR),
  /** rain starts this long before the river rises and stops at the peak */
  rainLeadS: z.number().nonnegative().default(0.5 * HOUR),
});
export type ScenarioOptions = z.input<typeof scenarioOptions>;
export type ScenarioParams = Readonly<z.output<typeof scenarioOptions>>;
export const DEFAULT_SCENARIO: ScenarioParams = Object.freeze(scenarioOptions.parse({}));

export function resolveScenario(opts: ScenarioOptions = {}): ScenarioParams {
  return Object.freeze(scenarioOptions.parse(opts));
}

export type Values = Partial<Record<MetricName, number>>;
