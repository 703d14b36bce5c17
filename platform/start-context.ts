import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { PlatformSecrets } from './secrets.ts';

/** What a stop step does; steps run in reverse order of their registration. */
export type StopStep = () => Promise<unknown>;

/** What every start step of one process reads (platform/main.ts builds it once). */
export interface StartContext {
  config: Config;
  /** DATA_DIR, resolved and created */
  dataDir: string;
  /** the services this process runs (SERVICES) */
  run: ReadonlySet<string>;
  secrets: PlatformSecrets;
  log: Logger;
  metrics: Registry;
  clock: { now(): number };
  /** registers how to stop what was just started */
  onStop(step: StopStep): void;
}

/** The stop steps of one process: run in reverse order, each failure logged, never stopping the rest. */
export function createStopSteps(log: Logger): { push(step: StopStep): void; stop(): Promise<void> } {
  const steps: StopStep[] = [];
  return {
    push: (step) => void steps.push(step),
    async stop() {
      for (const s of steps.reverse()) await s().catch((err: unknown) => log.error({ err }, 'error while stopping'));
      steps.length = 0;
    },
  };
}
