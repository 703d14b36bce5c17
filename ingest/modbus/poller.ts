import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ThrottledLog } from '../../lib/throttled-log.ts';
import { encodeValue } from './decode.ts';
import { createDeviceRunner, type AcceptReadings, type DeviceHealth, type DeviceRunner } from './device-runner.ts';
import { ModbusError, ModbusErrorCode } from './errors.ts';
import { createModbusMetrics } from './metrics.ts';
import { isGateRegister, type ModbusConfig } from './schema.ts';

export { DOWN_AFTER_FAILURES, type AcceptReadings, type DeviceHealth } from './device-runner.ts';

/**
 * The Modbus poller: each device on its own schedule, its own connection and its own failure
 * state (device-runner.ts), so a slow or dead PLC only ever delays itself. Polled values are
 * handed to the same reading sink as MQTT telemetry (ingest/reading-sink.ts: normalise, store,
 * obs), so rules see no difference between a polled and a pushed reading.
 */

export interface ModbusPollerDeps {
  config: ModbusConfig;
  /** `createReadingSink({ mqtt, store, metrics })` from ingest/reading-sink.ts */
  accept: AcceptReadings;
  metrics: Registry;
  log: Logger;
  clock?: { now(): number };
}

/** A register that keeps reading NaN/Infinity is logged at most once per this interval. */
export const NON_FINITE_LOG_INTERVAL_MS = 60_000;

export interface WriteResult {
  deviceId: string;
  register: string;
  value: number;
  words: number[];
}

export function createModbusPoller(deps: ModbusPollerDeps) {
  const log = deps.log.child({ module: 'modbus' });
  const now = () => (deps.clock ?? Date).now();
  const context = {
    metrics: createModbusMetrics(deps.metrics),
    log,
    now,
    accept: deps.accept,
    nonFiniteLog: new ThrottledLog(log, NON_FINITE_LOG_INTERVAL_MS, now),
  };
  const runners = new Map(deps.config.devices.map((device) => [device.id, createDeviceRunner(device, context)]));
  const timers = new Map<string, NodeJS.Timeout>();
  let running = false;

  function runnerOf(deviceId: string): DeviceRunner {
    const runner = runners.get(deviceId);
    if (!runner) throw new ModbusError(ModbusErrorCode.DEVICE_UNKNOWN, `unknown Modbus device "${deviceId}"`);
    return runner;
  }

  function schedule(runner: DeviceRunner, due: number): void {
    if (!running) return;
    const id = runner.device.id;
    timers.set(id, setTimeout(() => {
      timers.delete(id);
      runner.serial(runner.pollOnce)
        .catch((err: unknown) => log.error({ err, device: id }, 'modbus poll crashed'))
        .finally(() => {
          // Fixed rate: the next poll is due one interval after this one was due; ticks missed by a
          // slow poll are skipped, not bunched.
          const interval = runner.device.pollIntervalMs;
          let next = due + interval;
          const t = now();
          if (next < t) next += Math.ceil((t - next) / interval) * interval;
          schedule(runner, next);
        });
    }, Math.max(0, due - now())));
  }

  return {
    async start(): Promise<void> {
      if (running) return;
      running = true;
      const t = now();
      // Spread first polls over the first interval so many devices do not all fire at once.
      [...runners.values()].forEach((runner, i) => schedule(runner, t + ((i * 97) % Math.max(1, Math.min(runner.device.pollIntervalMs, 1000)))));
      log.info({ devices: runners.size }, 'modbus poller started');
    },
    async stop(): Promise<void> {
      running = false;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all([...runners.values()].map((runner) => runner.close()));
    },
    /** Poll one device now (tests, the CLI); shares the device's queue with the schedule. */
    async pollNow(deviceId: string): Promise<DeviceHealth> {
      const runner = runnerOf(deviceId);
      await runner.serial(runner.pollOnce);
      return structuredClone(runner.health);
    },
    health(): DeviceHealth[] {
      return [...runners.values()].map((r) => structuredClone(r.health));
    },
    /** Health of the devices of one station, for its status view. */
    stationHealth(station: string): DeviceHealth[] {
      return [...runners.values()].filter((r) => r.device.station === station).map((r) => structuredClone(r.health));
    },
    /**
     * Sets one register an operator may set (e.g. a reporting interval). Refuses registers not
     * marked `writable` in the map, and gate registers always, whatever the map says: HueWatch
     * watches gates and never moves them. The caller (the API, admin role) audits the action.
     */
    async writeRegister(deviceId: string, registerName: string, value: number): Promise<WriteResult> {
      const runner = runnerOf(deviceId);
      const r = runner.device.registers.find((x) => x.name === registerName);
      if (!r) throw new ModbusError(ModbusErrorCode.REGISTER_UNKNOWN, `device ${deviceId} has no register "${registerName}"`);
      if (!r.writable || isGateRegister(r) || (r.function !== 'holding' && r.function !== 'coil')) {
        throw new ModbusError(ModbusErrorCode.NOT_WRITABLE, `register ${registerName} of ${deviceId} is not writable`);
      }
      let words: number[];
      try {
        if (!Number.isFinite(value)) throw new RangeError(`${value} is not a finite number`);
        if (r.function === 'coil' && value !== 0 && value !== 1) throw new RangeError('a coil takes 0 or 1');
        words = encodeValue(value, r);
      } catch (err) {
        throw new ModbusError(ModbusErrorCode.VALUE_INVALID, `${registerName}: ${(err as Error).message}`);
      }
      return runner.serial(async () => {
        await runner.connectNow();
        if (r.function === 'coil') await runner.link.writeCoil(r.address, words[0] === 1);
        else await runner.link.writeRegisters(r.address, words);
        log.info({ device: deviceId, register: registerName, value, words }, 'modbus register written');
        return { deviceId, register: registerName, value, words };
      });
    },
  };
}
export type ModbusPoller = ReturnType<typeof createModbusPoller>;
