export * from './topics.ts';
export * from './metrics.ts';
export * from './errors.ts';
export * from './telemetry.ts';
export * from './status.ts';
export * from './obs.ts';
export * from './alert.ts';
export * from './station.ts';
