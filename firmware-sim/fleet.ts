import type { IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import type { Station } from '../contract/station.ts';
import { createSimulatedDevice, type Clock, type SimulatedDevice } from './device.ts';
import type { ScenarioName, ScenarioOptions } from './scenarios.ts';
import type { FaultSpec } from './faults.ts';
import { ErrorCode } from '../contract/errors.ts';

/** The device id a simulated station uses, so the platform can register it: `sim-kim-long`. */
export function simDeviceId(stationId: string): string {
  return `sim-${stationId}`;
}

export interface SimulatorOptions {
  url: string;
  devices: Array<{ deviceId: string; secret: string; station: Station }>;
  scenario: ScenarioName;
  intervalMs: number;
  speed: number;
  log: Logger;
  clock?: Clock;
  scenarioOptions?: ScenarioOptions;
  mqttOptions?: IClientOptions;
  /** faults to inject, by station id (faults.ts; `faultList` parses the SIM_FAULTS form) */
  faults?: Readonly<Record<string, readonly FaultSpec[]>>;
}

export interface Simulator {
  readonly devices: readonly SimulatedDevice[];
  stop(): Promise<void>;
}

/**
 * Starts one simulated device per entry. They share one simulated clock origin, so a replayed flood
 * reaches every station at the same simulated time, and their first readings are spread over one
 * interval so a large fleet does not publish in lockstep.
 */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const clock = opts.clock ?? Date;
  const simEpochMs = clock.now();
  const log = opts.log.child({ module: 'firmware-sim' });
  const unknown = Object.keys(opts.faults ?? {}).filter((id) => !opts.devices.some((d) => d.station.id === id));
  if (unknown.length > 0) throw Object.assign(new Error(`SIM_FAULTS: no simulated device for station ${unknown.join(', ')}`), { code: ErrorCode.CONFIG_INVALID });
  const devices = opts.devices.map((d) =>
    createSimulatedDevice({
      url: opts.url,
      deviceId: d.deviceId,
      secret: d.secret,
      station: d.station,
      scenario: opts.scenario,
      intervalMs: opts.intervalMs,
      speed: opts.speed,
      log: opts.log,
      clock,
      simEpochMs,
      ...(opts.scenarioOptions ? { scenarioOptions: opts.scenarioOptions } : {}),
      ...(opts.mqttOptions ? { mqttOptions: opts.mqttOptions } : {}),
      ...(opts.faults?.[d.station.id] ? { faults: opts.faults[d.station.id] } : {}),
    }),
  );
  const spreadMs = devices.length > 1 ? opts.intervalMs / devices.length : 0;
  // every device connects now (start resolves once all are in); only their first reports are spread
  await Promise.all(devices.map((d, i) => d.start(i * spreadMs)));
  log.info({ devices: devices.length, scenario: opts.scenario, speed: opts.speed, intervalMs: opts.intervalMs, faults: opts.faults }, 'simulator started');
  return {
    devices,
    async stop() {
      // Each device publishes its own offline status; one failing must not keep the others online.
      const results = await Promise.allSettled(devices.map((d) => d.stop()));
      for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason }, 'device stop failed');
      log.info('simulator stopped');
    },
  };
}
