import type { Severity } from '../contract/alert.ts';

/**
 * CAP 1.2 §3.2.2 severity by alarm level, unless the rule says otherwise: level 1 is a warning to
 * prepare (Moderate), level 2 threatens property and roads (Severe), level 3 threatens life (Extreme).
 */
export function defaultSeverity(level: number): Severity {
  return level <= 1 ? 'Moderate' : level === 2 ? 'Severe' : 'Extreme';
}
