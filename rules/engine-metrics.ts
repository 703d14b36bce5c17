import { Counter, Gauge, type Registry } from 'prom-client';

/** The rules engine's metrics, got or created in `registry` (several engines may share one in tests). */
export function createEngineMetrics(registry: Registry) {
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    evaluations: counter('huewatch_rules_evaluations_total', 'Rule evaluations of one reading'),
    ignored: counter('huewatch_rules_readings_ignored_total', 'Readings a rule ignored (late, out of range)', ['reason']),
    events: counter('huewatch_alert_events_total', 'Alert events published', ['msgType']),
    obsInvalid: counter('huewatch_rules_obs_invalid_total', 'Observation messages dropped as invalid'),
    obsHandled: counter('huewatch_rules_obs_handled_total', 'Observations fully handled (evaluated, persisted, published)'),
    replayed: counter('huewatch_rules_replayed_total', 'Stored readings evaluated at start because rule state had not recorded them'),
    stateWrites: counter('huewatch_rules_state_writes_total', 'Batched writes of rule state'),
    stateWriteFailures: counter('huewatch_rules_state_write_failures_total', 'Batched writes of rule state that failed (the records stay dirty)'),
    errors: counter('huewatch_rules_errors_total', 'Rule evaluations that failed', ['rule']),
    coldWindows: (registry.getSingleMetric('huewatch_rules_cold_windows') as Gauge | undefined)
      ?? new Gauge({ name: 'huewatch_rules_cold_windows', help: 'Rolling windows not yet warmed from the store (it did not answer)', registers: [registry] }),
  };
}
export type EngineMetrics = ReturnType<typeof createEngineMetrics>;
