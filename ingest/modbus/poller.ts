import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Reading } from '../../contract/telemetry.ts';
import { ThrottledLog } from '../../lib/throttled-log.ts';
import { decodeValue, encodeValue } from './decode.ts';
import { ModbusError, ModbusErrorCode } from './errors.ts';
import { planRequests, type ReadRequest } from './plan.ts';
import { isGateRegister, widthOf, type ModbusConfig, type ModbusDevice } from './schema.ts';
import { createModbusLink, type ModbusLink } from './transport.ts';

/**
 * The Modbus poller: each device on its own schedule, its own connection and its own failure
 * state, so a slow or dead PLC only ever delays itself. Polled values are handed to the same
 * reading sink as MQTT telemetry (ingest/reading-sink.ts: normalise, store, obs), so rules see
 * no difference between a polled and a pushed reading.
 */

export type AcceptReadings = (deviceId: string, station: string, readings: readonly Reading[]) => Promise<unknown>;

export interface ModbusPollerDeps {
  config: ModbusConfig;
  /** `createReadingSink({ mqtt, store, metrics })` from ingest/reading-sink.ts */
  accept: AcceptReadings;
  metrics: Registry;
  log: Logger;
  clock?: { now(): number };
}

/** Consecutive failed polls after which a device is `down` rather than `degraded`. */
export const DOWN_AFTER_FAILURES = 3;
/** A register that keeps reading NaN/Infinity is logged at most once per this interval. */
export const NON_FINITE_LOG_INTERVAL_MS = 60_000;

export interface DeviceHealth {
  deviceId: string;
  station: string;
  /**
   * ok: last poll read everything; degraded: some failures, or a register held no number
   * (`nonFinite`); down: unreachable or failing repeatedly
   */
  state: 'ok' | 'degraded' | 'down' | 'idle';
  connected: boolean;
  polls: number;
  lastPollAt?: number;
  lastGoodPollAt?: number;
  lastLatencyMs?: number;
  consecutiveFailures: number;
  /** counts by kind: TIMEOUT, DISCONNECTED, BAD_REPLY, SINK, or the exception name */
  errors: Record<string, number>;
  lastError?: { code: string; kind: string; message: string; at: number };
  /** last decoded engineering value of every polled register, by register name (finite values only) */
  values: Record<string, number>;
  /**
   * Registers whose value in the last poll was NaN or ±Infinity (a float32 the PLC marks as
   * "no measurement", or a fault): not a measurement, so dropped, not stored; the rest of the poll
   * is kept. Counted in `huewatch_modbus_non_finite_values_total{device,register}`.
   */
  nonFinite: string[];
}

export interface WriteResult {
  deviceId: string;
  register: string;
  value: number;
  words: number[];
}

interface DeviceRun {
  device: ModbusDevice;
  link: ModbusLink;
  requests: ReadRequest[];
  health: DeviceHealth;
  timer?: NodeJS.Timeout;
  nextConnectAt: number;
  backoffMs: number;
  /** serialises polls and operator writes on the device's one connection */
  queue: Promise<unknown>;
}

export function createModbusPoller(deps: ModbusPollerDeps) {
  const log = deps.log.child({ module: 'modbus' });
  const now = () => (deps.clock ?? Date).now();
  const reg = deps.metrics;
  const polls = new Counter({ name: 'huewatch_modbus_polls_total', help: 'Modbus polls by device and result', labelNames: ['device', 'result'], registers: [reg] });
  const errors = new Counter({ name: 'huewatch_modbus_errors_total', help: 'Modbus errors by device and kind (exception name, TIMEOUT, DISCONNECTED…)', labelNames: ['device', 'kind'], registers: [reg] });
  const latency = new Histogram({
    name: 'huewatch_modbus_poll_seconds',
    help: 'Time to poll every register of a device',
    labelNames: ['device'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [reg],
  });
  const lastGood = new Gauge({ name: 'huewatch_modbus_last_good_poll_seconds', help: 'Unix time of the last complete poll', labelNames: ['device'], registers: [reg] });
  const up = new Gauge({ name: 'huewatch_modbus_device_up', help: '1 when the last poll of the device read everything, every value a number', labelNames: ['device'], registers: [reg] });
  const registersRead = new Counter({ name: 'huewatch_modbus_registers_read_total', help: 'Registers (and bits) read', labelNames: ['device'], registers: [reg] });
  const nonFiniteValues = new Counter({
    name: 'huewatch_modbus_non_finite_values_total',
    help: 'Register values that decoded to NaN or ±Infinity: dropped (not a measurement), the rest of the poll kept',
    labelNames: ['device', 'register'],
    registers: [reg],
  });
  const nonFiniteLog = new ThrottledLog(log, NON_FINITE_LOG_INTERVAL_MS, now);
  const reconnects = new Counter({ name: 'huewatch_modbus_connects_total', help: 'Connection attempts by device and result', labelNames: ['device', 'result'], registers: [reg] });

  const runs = new Map<string, DeviceRun>();
  for (const device of deps.config.devices) {
    runs.set(device.id, {
      device,
      link: createModbusLink(device),
      requests: planRequests(device.registers.filter((r) => r.metric !== undefined), device),
      health: { deviceId: device.id, station: device.station, state: 'idle', connected: false, polls: 0, consecutiveFailures: 0, errors: {}, values: {}, nonFinite: [] },
      nextConnectAt: 0,
      backoffMs: device.reconnectInitialMs,
      queue: Promise.resolve(),
    });
  }
  let running = false;

  function serial<T>(run: DeviceRun, task: () => Promise<T>): Promise<T> {
    const next = run.queue.then(task, task);
    run.queue = next.catch(() => undefined);
    return next;
  }

  function recordError(run: DeviceRun, err: unknown): ModbusError {
    const e = err instanceof ModbusError ? err : new ModbusError(ModbusErrorCode.BAD_REPLY, (err as Error).message);
    run.health.errors[e.kind] = (run.health.errors[e.kind] ?? 0) + 1;
    run.health.lastError = { code: e.code, kind: e.kind, message: e.message, at: now() };
    errors.inc({ device: run.device.id, kind: e.kind });
    return e;
  }

  async function ensureConnected(run: DeviceRun): Promise<boolean> {
    if (run.link.isOpen) return true;
    if (now() < run.nextConnectAt) return false;
    try {
      await run.link.connect();
      reconnects.inc({ device: run.device.id, result: 'ok' });
      run.backoffMs = run.device.reconnectInitialMs;
      log.info({ device: run.device.id }, 'modbus device connected');
      return true;
    } catch (err) {
      reconnects.inc({ device: run.device.id, result: 'failed' });
      const e = recordError(run, err);
      // Exponential backoff with ±20 % jitter, so a fleet behind one gateway does not reconnect in step.
      run.nextConnectAt = now() + run.backoffMs * (0.8 + 0.4 * Math.random());
      run.backoffMs = Math.min(run.device.reconnectMaxMs, run.backoffMs * 2);
      log.warn({ device: run.device.id, code: e.code, problem: e.message, retryInMs: Math.round(run.nextConnectAt - now()) }, 'modbus connect failed');
      return false;
    }
  }

  async function readWithRetries(run: DeviceRun, req: ReadRequest): Promise<number[]> {
    let last: unknown;
    for (let attempt = 0; attempt <= run.device.retries; attempt++) {
      try {
        return await run.link.read(req.function, req.address, req.count);
      } catch (err) {
        last = err;
        const e = err as ModbusError;
        // Retry what may pass on a second try: a lost frame, a busy or acknowledging device (§7 codes 5, 6).
        const transient = e.code === ModbusErrorCode.TIMEOUT || e.code === ModbusErrorCode.BAD_REPLY || e.exception === 5 || e.exception === 6;
        if (!transient || !run.link.isOpen) break;
        if (attempt < run.device.retries) recordError(run, err);
      }
    }
    throw last;
  }

  async function pollOnce(run: DeviceRun): Promise<void> {
    const started = now();
    const h = run.health;
    h.polls++;
    h.lastPollAt = started;
    const endTimer = latency.startTimer({ device: run.device.id });
    const values: Reading['values'] = {};
    const nonFinite: string[] = [];
    let failed = 0;
    if (!(await ensureConnected(run))) {
      failed = run.requests.length;
    } else {
      for (const req of run.requests) {
        let words: number[];
        try {
          words = await readWithRetries(run, req);
        } catch (err) {
          failed++;
          const e = recordError(run, err);
          if (h.consecutiveFailures === 0) log.warn({ device: run.device.id, code: e.code, kind: e.kind, fn: req.function, address: req.address, count: req.count }, 'modbus read failed');
          if (!run.link.isOpen) {
            failed = run.requests.length;
            break;
          }
          continue;
        }
        registersRead.inc({ device: run.device.id }, req.count);
        for (const p of req.points) {
          const value = decodeValue(words.slice(p.index, p.index + widthOf(p.register.type)), p.register);
          if (!Number.isFinite(value)) {
            // NaN/±Infinity is not a measurement: drop this value only, keep the rest of the poll
            nonFinite.push(p.register.name);
            delete h.values[p.register.name];
            nonFiniteValues.inc({ device: run.device.id, register: p.register.name });
            nonFiniteLog.warn(`${run.device.id}\u0000${p.register.name}`, {
              device: run.device.id, register: p.register.name, value: String(value), words: words.slice(p.index, p.index + widthOf(p.register.type)),
            }, 'modbus register holds no number (NaN/Infinity): value dropped');
            continue;
          }
          h.values[p.register.name] = value;
          if (p.register.metric) values[p.register.metric] = value;
        }
      }
    }
    endTimer();
    h.connected = run.link.isOpen;
    h.lastLatencyMs = now() - started;
    const result = failed === 0 ? (nonFinite.length === 0 ? 'ok' : 'partial') : failed < run.requests.length ? 'partial' : 'failed';
    polls.inc({ device: run.device.id, result });
    h.nonFinite = nonFinite;
    if (nonFinite.length > 0) {
      const message = `register(s) ${nonFinite.join(', ')} held NaN/Infinity: value(s) dropped`;
      h.errors.NON_FINITE = (h.errors.NON_FINITE ?? 0) + nonFinite.length;
      h.lastError = { code: ModbusErrorCode.VALUE_INVALID, kind: 'NON_FINITE', message, at: now() };
    }
    if (failed === 0 && nonFinite.length > 0) {
      // the device answered: not a communication failure (never `down` for this), but not ok either
      h.consecutiveFailures = 0;
      h.state = 'degraded';
      up.set({ device: run.device.id }, 0);
    } else if (result === 'ok') {
      h.consecutiveFailures = 0;
      h.lastGoodPollAt = started;
      h.state = 'ok';
      lastGood.set({ device: run.device.id }, started / 1000);
      up.set({ device: run.device.id }, 1);
    } else {
      h.consecutiveFailures++;
      h.state = !h.connected || h.consecutiveFailures >= DOWN_AFTER_FAILURES ? 'down' : 'degraded';
      up.set({ device: run.device.id }, 0);
    }
    if (Object.keys(values).length > 0) {
      try {
        await deps.accept(run.device.id, run.device.station, [{ ts: started, values }]);
      } catch (err) {
        recordError(run, new ModbusError(ModbusErrorCode.BAD_REPLY, `sink: ${(err as Error).message}`));
        h.errors.SINK = (h.errors.SINK ?? 0) + 1;
        log.error({ err, device: run.device.id }, 'polled readings not stored');
      }
    }
  }

  function schedule(run: DeviceRun, due: number): void {
    if (!running) return;
    run.timer = setTimeout(() => {
      run.timer = undefined;
      serial(run, () => pollOnce(run))
        .catch((err: unknown) => log.error({ err, device: run.device.id }, 'modbus poll crashed'))
        .finally(() => {
          // Fixed rate: the next poll is due one interval after this one was due; ticks missed by a
          // slow poll are skipped, not bunched.
          const interval = run.device.pollIntervalMs;
          let next = due + interval;
          const t = now();
          if (next < t) next += Math.ceil((t - next) / interval) * interval;
          schedule(run, next);
        });
    }, Math.max(0, due - now()));
  }

  return {
    async start(): Promise<void> {
      if (running) return;
      running = true;
      const t = now();
      // Spread first polls over the first interval so many devices do not all fire at once.
      [...runs.values()].forEach((run, i) => schedule(run, t + ((i * 97) % Math.max(1, Math.min(run.device.pollIntervalMs, 1000)))));
      log.info({ devices: runs.size }, 'modbus poller started');
    },
    async stop(): Promise<void> {
      running = false;
      for (const run of runs.values()) clearTimeout(run.timer);
      await Promise.all([...runs.values()].map((run) => run.link.close()));
      await Promise.all([...runs.values()].map((run) => run.queue));
      for (const run of runs.values()) {
        run.health.connected = false;
        run.health.state = 'idle';
      }
    },
    /** Poll one device now (tests, the CLI); shares the device's queue with the schedule. */
    pollNow(deviceId: string): Promise<DeviceHealth> {
      const run = runs.get(deviceId);
      if (!run) return Promise.reject(new ModbusError(ModbusErrorCode.DEVICE_UNKNOWN, `unknown Modbus device "${deviceId}"`));
      return serial(run, () => pollOnce(run)).then(() => structuredClone(run.health));
    },
    health(): DeviceHealth[] {
      return [...runs.values()].map((r) => structuredClone(r.health));
    },
    /** Health of the devices of one station, for its status view. */
    stationHealth(station: string): DeviceHealth[] {
      return [...runs.values()].filter((r) => r.device.station === station).map((r) => structuredClone(r.health));
    },
    /**
     * Sets one register an operator may set (e.g. a reporting interval). Refuses registers not
     * marked `writable` in the map, and gate registers always, whatever the map says: HueWatch
     * watches gates and never moves them. The caller (the API, admin role) audits the action.
     */
    async writeRegister(deviceId: string, registerName: string, value: number): Promise<WriteResult> {
      const run = runs.get(deviceId);
      if (!run) throw new ModbusError(ModbusErrorCode.DEVICE_UNKNOWN, `unknown Modbus device "${deviceId}"`);
      const r = run.device.registers.find((x) => x.name === registerName);
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
      return serial(run, async () => {
        if (!run.link.isOpen) {
          run.nextConnectAt = 0;
          if (!(await ensureConnected(run))) throw run.health.lastError ? new ModbusError(ModbusErrorCode.DISCONNECTED, run.health.lastError.message) : new ModbusError(ModbusErrorCode.DISCONNECTED, 'not connected');
        }
        if (r.function === 'coil') await run.link.writeCoil(r.address, words[0] === 1);
        else await run.link.writeRegisters(r.address, words);
        log.info({ device: deviceId, register: registerName, value, words }, 'modbus register written');
        return { deviceId, register: registerName, value, words };
      });
    },
  };
}
export type ModbusPoller = ReturnType<typeof createModbusPoller>;
