import type { AlertEvent } from '../contract/alert.ts';
import type { LevelState } from './level.ts';

/*
 * A rule's persisted state, shared by the engine (engine.ts) and the operator actions
 * (operator-actions.ts); kept apart so neither imports the other for it.
 */

/** the StateStore JSON namespace of the rule records */
export const RULE_STATE_NAMESPACE = 'rule-state';

/** What is persisted per rule (one rule = one station = one alert key). */
export interface RuleRecord {
  ruleId: string;
  key: string;
  level: LevelState;
  /**
   * The last event of the alert this rule has open, or null. Written before the event is appended
   * to the store, so a crash in between is repaired at start rather than raising a second alert.
   */
  alert: AlertEvent | null;
  /** the observation that caused `alert` (the store keeps it as the event's cause) */
  cause?: unknown;
  /** the alert was marked stale (its source went silent); the next accepted reading refreshes it */
  stale?: boolean;
  /** the alert was escalated for want of acknowledgement */
  ackEscalated?: boolean;
}
