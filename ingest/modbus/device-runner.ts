import type { Logger } from 'pino';
import type { Reading } from '../../contract/telemetry.ts';
import type { ThrottledLog } from '../../lib/throttled-log.ts';
import { decodeValue } from './decode.ts';
import { ModbusError, ModbusErrorCode } from './errors.ts';
import type { ModbusMetrics } from './metrics.ts';
import { planRequests, type ReadRequest } from './plan.ts';
import { widthOf, type ModbusDevice } from './schema.ts';
import { createModbusLink } from './transport.ts';

/**
 * One Modbus device's connection, failure state and poll: everything about a device that does
 * not depend on the others. The poller (poller.ts) owns the schedule; this owns one poll.
 */

export type AcceptReadings = (deviceId: string, station: string, readings: readonly Reading[]) => Promise<unknown>;

/** Consecutive failed polls after which a device is `down` rather than `degraded`. */
export const DOWN_AFTER_FAILURES = 3;

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

export interface RunnerContext {
  metrics: ModbusMetrics;
  log: Logger;
  now(): number;
  accept: AcceptReadings;
  /** NaN/Infinity registers, logged once per interval per device and register */
  nonFiniteLog: ThrottledLog;
}

export function createDeviceRunner(device: ModbusDevice, ctx: RunnerContext) {
  const { metrics, log, now } = ctx;
  const link = createModbusLink(device);
  const requests = planRequests(device.registers.filter((r) => r.metric !== undefined), device);
  const health: DeviceHealth = { deviceId: device.id, station: device.station, state: 'idle', connected: false, polls: 0, consecutiveFailures: 0, errors: {}, values: {}, nonFinite: [] };
  let nextConnectAt = 0;
  let backoffMs = device.reconnectInitialMs;
  /** serialises polls and operator writes on the device's one connection */
  let queue: Promise<unknown> = Promise.resolve();

  function serial<T>(task: () => Promise<T>): Promise<T> {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  }

  function recordError(err: unknown): ModbusError {
    const e = err instanceof ModbusError ? err : new ModbusError(ModbusErrorCode.BAD_REPLY, (err as Error).message);
    health.errors[e.kind] = (health.errors[e.kind] ?? 0) + 1;
    health.lastError = { code: e.code, kind: e.kind, message: e.message, at: now() };
    metrics.errors.inc({ device: device.id, kind: e.kind });
    return e;
  }

  async function ensureConnected(): Promise<boolean> {
    if (link.isOpen) return true;
    if (now() < nextConnectAt) return false;
    try {
      await link.connect();
      metrics.connects.inc({ device: device.id, result: 'ok' });
      backoffMs = device.reconnectInitialMs;
      log.info({ device: device.id }, 'modbus device connected');
      return true;
    } catch (err) {
      metrics.connects.inc({ device: device.id, result: 'failed' });
      const e = recordError(err);
      // Exponential backoff with ±20 % jitter, so a fleet behind one gateway does not reconnect in step.
      nextConnectAt = now() + backoffMs * (0.8 + 0.4 * Math.random());
      backoffMs = Math.min(device.reconnectMaxMs, backoffMs * 2);
      log.warn({ device: device.id, code: e.code, problem: e.message, retryInMs: Math.round(nextConnectAt - now()) }, 'modbus connect failed');
      return false;
    }
  }

  async function readWithRetries(req: ReadRequest): Promise<number[]> {
    let last: unknown;
    for (let attempt = 0; attempt <= device.retries; attempt++) {
      try {
        return await link.read(req.function, req.address, req.count);
      } catch (err) {
        last = err;
        const e = err as ModbusError;
        // Retry what may pass on a second try: a lost frame, a busy or acknowledging device (§7 codes 5, 6).
        const transient = e.code === ModbusErrorCode.TIMEOUT || e.code === ModbusErrorCode.BAD_REPLY || e.exception === 5 || e.exception === 6;
        if (!transient || !link.isOpen) break;
        if (attempt < device.retries) recordError(err);
      }
    }
    throw last;
  }

  /** The request's registers into engineering values; NaN/Infinity is no measurement: dropped alone. */
  function decodeInto(req: ReadRequest, words: number[], values: Reading['values'], nonFinite: string[]): void {
    for (const p of req.points) {
      const own = words.slice(p.index, p.index + widthOf(p.register.type));
      const value = decodeValue(own, p.register);
      if (!Number.isFinite(value)) {
        nonFinite.push(p.register.name);
        delete health.values[p.register.name];
        metrics.nonFiniteValues.inc({ device: device.id, register: p.register.name });
        ctx.nonFiniteLog.warn(`${device.id}\u0000${p.register.name}`, { device: device.id, register: p.register.name, value: String(value), words: own },
          'modbus register holds no number (NaN/Infinity): value dropped');
        continue;
      }
      health.values[p.register.name] = value;
      if (p.register.metric) values[p.register.metric] = value;
    }
  }

  /** Reads every planned request; returns how many failed (all of them when the link is down). */
  async function readAll(values: Reading['values'], nonFinite: string[]): Promise<number> {
    if (!(await ensureConnected())) return requests.length;
    let failed = 0;
    for (const req of requests) {
      let words: number[];
      try {
        words = await readWithRetries(req);
      } catch (err) {
        failed++;
        const e = recordError(err);
        if (health.consecutiveFailures === 0) log.warn({ device: device.id, code: e.code, kind: e.kind, fn: req.function, address: req.address, count: req.count }, 'modbus read failed');
        if (!link.isOpen) return requests.length;
        continue;
      }
      metrics.registersRead.inc({ device: device.id }, req.count);
      decodeInto(req, words, values, nonFinite);
    }
    return failed;
  }

  /** The device's state after a poll: a NaN register degrades it, failures take it down. */
  function settleHealth(started: number, failed: number, nonFinite: string[]): void {
    const h = health;
    const result = failed === 0 ? (nonFinite.length === 0 ? 'ok' : 'partial') : failed < requests.length ? 'partial' : 'failed';
    metrics.polls.inc({ device: device.id, result });
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
      metrics.up.set({ device: device.id }, 0);
    } else if (result === 'ok') {
      h.consecutiveFailures = 0;
      h.lastGoodPollAt = started;
      h.state = 'ok';
      metrics.lastGood.set({ device: device.id }, started / 1000);
      metrics.up.set({ device: device.id }, 1);
    } else {
      h.consecutiveFailures++;
      h.state = !h.connected || h.consecutiveFailures >= DOWN_AFTER_FAILURES ? 'down' : 'degraded';
      metrics.up.set({ device: device.id }, 0);
    }
  }

  async function pollOnce(): Promise<void> {
    const started = now();
    health.polls++;
    health.lastPollAt = started;
    const endTimer = metrics.latency.startTimer({ device: device.id });
    const values: Reading['values'] = {};
    const nonFinite: string[] = [];
    const failed = await readAll(values, nonFinite);
    endTimer();
    health.connected = link.isOpen;
    health.lastLatencyMs = now() - started;
    settleHealth(started, failed, nonFinite);
    if (Object.keys(values).length === 0) return;
    try {
      await ctx.accept(device.id, device.station, [{ ts: started, values }]);
    } catch (err) {
      recordError(new ModbusError(ModbusErrorCode.BAD_REPLY, `sink: ${(err as Error).message}`));
      health.errors.SINK = (health.errors.SINK ?? 0) + 1;
      log.error({ err, device: device.id }, 'polled readings not stored');
    }
  }

  return {
    device,
    link,
    health,
    serial,
    pollOnce,
    /** Connects now if need be, skipping the backoff (an operator's write should not wait for it). */
    async connectNow(): Promise<void> {
      if (link.isOpen) return;
      nextConnectAt = 0;
      if (!(await ensureConnected())) {
        throw new ModbusError(ModbusErrorCode.DISCONNECTED, health.lastError?.message ?? 'not connected');
      }
    },
    /** Closes the link and waits for the queued polls and writes. */
    async close(): Promise<void> {
      await link.close();
      await queue;
      health.connected = false;
      health.state = 'idle';
    },
  };
}
export type DeviceRunner = ReturnType<typeof createDeviceRunner>;
