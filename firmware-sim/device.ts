import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { z } from 'zod';
import type { Logger } from 'pino';
import { topics, ID_PATTERN } from '../contract/topics.ts';
import { MAX_READINGS_PER_MESSAGE, type ReadingPayload } from '../contract/telemetry.ts';
import type { StatusPayload } from '../contract/status.ts';
import { ErrorCode } from '../contract/errors.ts';
import type { Station } from '../contract/station.ts';
import { resolveScenario, sample, scenarioName, type ScenarioName, type ScenarioOptions, type Values } from './scenarios.ts';
import { faultPipeline, type FaultSpec } from './faults.ts';
import { dryHistory } from './weather.ts';

/**
 * One simulated field station: a data logger that reads its sensors on a schedule, publishes over
 * MQTT (QoS 1), keeps readings in a bounded store-and-forward buffer while offline, and obeys the
 * desired config the platform leaves retained on its cmd topic.
 */

export const FW_VERSION = 'huewatch-sim/0.1.0';
/** Flash budget of a small logger: 1,000 readings is ~17 h at one reading a minute. */
export const DEFAULT_BUFFER_LIMIT = 1000;
/** Keepalive of 30 s: cellular NATs drop idle mappings after about a minute. */
const KEEPALIVE_S = 30;
/** stop() gives the broker this long to ack the offline status before forcing the socket shut. */
const STOP_TIMEOUT_MS = 5000;

export interface Clock {
  now(): number;
}

/** Desired config on `huewatch/v1/cmd/{deviceId}`; unknown keys are ignored so the platform can add more. */
export const deviceCommand = z.looseObject({
  // Floor of 50 ms so a typo cannot turn a simulator into a flood of messages.
  interval_s: z.number().min(0.05).max(86_400).optional(),
});

const settings = z.object({
  url: z.string().min(1),
  deviceId: z.string().regex(ID_PATTERN, 'must match the topic-safe id alphabet'),
  secret: z.string(),
  scenario: scenarioName,
  intervalMs: z.number().min(50),
  speed: z.number().positive(),
  bufferLimit: z.number().int().positive().default(DEFAULT_BUFFER_LIMIT),
  initialSeq: z.number().int().nonnegative().default(0),
  backoff: z.object({ initialMs: z.number().positive(), maxMs: z.number().positive() }).default({ initialMs: 1000, maxMs: 60_000 }),
});

export interface SimulatedDeviceOptions {
  url: string;
  deviceId: string;
  secret: string;
  station: Station;
  scenario: ScenarioName;
  /** real milliseconds between readings (changed at run time by `{"interval_s": n}` on cmd) */
  intervalMs: number;
  /** simulated seconds per real second: 60 plays one simulated hour in a real minute */
  speed: number;
  /** real time for `ts` (defaults to Date); simulated time is derived from it */
  clock?: Clock;
  log: Logger;
  mqttOptions?: IClientOptions;
  scenarioOptions?: ScenarioOptions;
  /** real epoch ms at which simulated time is 0; a fleet shares one so its floods are in step */
  simEpochMs?: number;
  bufferLimit?: number;
  /** first seq; a real logger keeps its counter across reboots */
  initialSeq?: number;
  /** reconnect delay doubles from initialMs up to maxMs, with jitter, and resets on connect */
  backoff?: { initialMs: number; maxMs: number };
  /** what this station does wrong (faults.ts): applied to every scheduled reading, seeded by the scenario seed */
  faults?: readonly FaultSpec[];
}

export interface DeviceStats {
  connected: boolean;
  /** seq the next reading will carry */
  seq: number;
  intervalMs: number;
  buffered: number;
  /** readings dropped because the buffer was full while offline */
  dropped: number;
  /** readings acknowledged by the broker */
  published: number;
}

export interface SimulatedDevice {
  readonly deviceId: string;
  /**
   * Connects and starts reporting; resolves after the first connect attempt, whatever its outcome.
   * The first report comes after `firstReportMs` (default: at once), then one every interval.
   */
  start(firstReportMs?: number): Promise<void>;
  /** Publishes `{"online":false}` retained, then disconnects cleanly. */
  stop(): Promise<void>;
  /** A one-shot reading with these values (next seq, current time): for technicians injecting a value. */
  publishReading(values: Values): Promise<void>;
  stats(): DeviceStats;
}

type Reading = ReadingPayload & { ts: number; seq: number };

export function createSimulatedDevice(opts: SimulatedDeviceOptions): SimulatedDevice {
  const cfg = Object.freeze(settings.parse(opts));
  const params = resolveScenario(opts.scenarioOptions);
  const clock = opts.clock ?? Date;
  const log = opts.log.child({ module: 'firmware-sim', deviceId: cfg.deviceId });
  const telemetryTopic = topics.telemetry(cfg.deviceId);
  const statusTopic = topics.status(cfg.deviceId);
  const cmdTopic = topics.cmd(cfg.deviceId);

  let client: MqttClient | undefined;
  let stopping = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let backoffMs = cfg.backoff.initialMs;
  let intervalMs = cfg.intervalMs;
  let seq = cfg.initialSeq;
  let epochMs = 0;
  let lastSimS: number | undefined;
  let lastTickAt = 0; // performance.now() of the last scheduled reading
  let lastBattery: number | undefined;
  let buffer: Reading[] = [];
  // dry season: a weather station's logger uploads its memory of the spell, one day per report
  const history = opts.station.kind === 'weather' && cfg.scenario === 'dry-season' ? dryHistory(clock.now()) : [];
  let dropped = 0;
  let published = 0;

  const simSeconds = (now: number) => ((now - epochMs) / 1000) * cfg.speed;
  const injectFaults = opts.faults && opts.faults.length > 0 ? faultPipeline(opts.faults, params.seed, cfg.deviceId) : undefined;

  function onPublished(count: number) {
    return (err?: Error) => {
      if (err) log.warn({ err, count }, 'telemetry publish failed');
      else published += count;
    };
  }

  /** Sends now when connected (one reading, or an array of them); otherwise buffers, dropping the oldest at the bound. */
  function send(message: Reading | Reading[]): Promise<void> {
    const c = client;
    if (c?.connected) {
      return new Promise((resolve) => {
        c.publish(telemetryTopic, JSON.stringify(message), { qos: 1 }, (err) => {
          onPublished(Array.isArray(message) ? message.length : 1)(err);
          resolve();
        });
      });
    }
    for (const reading of Array.isArray(message) ? message : [message]) {
      buffer.push(reading);
      if (buffer.length > cfg.bufferLimit) {
        buffer.shift();
        dropped++;
        if (dropped === 1 || dropped % 100 === 0) log.warn({ dropped, bufferLimit: cfg.bufferLimit }, 'buffer full, dropping oldest readings');
      }
    }
    return Promise.resolve();
  }

  /** Store-and-forward: buffered readings go out oldest first as arrays (the contract caps their size). */
  function flush(c: MqttClient) {
    if (buffer.length === 0) return;
    const pending = buffer;
    buffer = [];
    log.info({ readings: pending.length, dropped }, 'flushing buffered readings');
    for (let i = 0; i < pending.length; i += MAX_READINGS_PER_MESSAGE) {
      const chunk = pending.slice(i, i + MAX_READINGS_PER_MESSAGE);
      // QoS 1 with clean:false: a chunk cut off by another disconnect is resent from MQTT.js's store.
      c.publish(telemetryTopic, JSON.stringify(chunk), { qos: 1 }, onPublished(chunk.length));
    }
  }

  function tick() {
    const now = clock.now();
    const simS = simSeconds(now);
    const intervalS = lastSimS === undefined ? (intervalMs / 1000) * cfg.speed : simS - lastSimS;
    lastSimS = simS;
    const m = sample(opts.station, cfg.scenario, simS, intervalS, params);
    lastBattery = m.battery_v;
    const day = history.shift();
    if (day) void send(day.map((r) => ({ ts: r.ts, seq: seq++, m: r.m })));
    const reading: Reading = { ts: now, seq: seq++, m };
    if (!injectFaults) void send(reading);
    else for (const message of injectFaults(reading)) void send(message);
  }

  function schedule(delayMs: number) {
    clearTimeout(tickTimer);
    if (stopping) return;
    tickTimer = setTimeout(() => {
      lastTickAt = performance.now();
      tick();
      schedule(intervalMs);
    }, delayMs);
  }

  function applyCommand(payload: Buffer) {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      log.warn({ code: ErrorCode.PAYLOAD_JSON, topic: cmdTopic, problem: (err as Error).message }, 'command dropped');
      return;
    }
    const parsed = deviceCommand.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      log.warn({ code: ErrorCode.PAYLOAD_INVALID, topic: cmdTopic, problem: `${issue?.path.join('.')}: ${issue?.message}` }, 'command dropped');
      return;
    }
    const { interval_s } = parsed.data;
    if (interval_s !== undefined && interval_s * 1000 !== intervalMs) {
      intervalMs = interval_s * 1000;
      log.info({ intervalMs }, 'reporting interval changed by command');
      // The next reading is due one new interval after the last one, or now if that has passed.
      if (tickTimer) schedule(Math.max(0, lastTickAt + intervalMs - performance.now()));
    }
  }

  function scheduleReconnect() {
    if (stopping || reconnectTimer) return;
    // Jitter spreads a fleet's reconnects after a broker restart instead of a thundering herd.
    const delay = backoffMs * (0.5 + Math.random() / 2);
    backoffMs = Math.min(backoffMs * 2, cfg.backoff.maxMs);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      const c = client;
      if (stopping || !c || c.connected) return;
      log.debug({ delay }, 'reconnecting');
      // Keep the stores: QoS 1 messages in flight when the link dropped are resent, not lost.
      c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore });
    }, delay);
  }

  function statusPayload(online: boolean): string {
    const status: StatusPayload = { online, ts: clock.now(), fw: FW_VERSION };
    if (lastBattery !== undefined) status.battery_v = lastBattery;
    return JSON.stringify(status);
  }

  return {
    deviceId: cfg.deviceId,

    async start(firstReportMs = 0) {
      if (client) return;
      stopping = false;
      epochMs = opts.simEpochMs ?? clock.now();
      const c = connect(cfg.url, {
        clientId: cfg.deviceId,
        username: cfg.deviceId,
        password: cfg.secret,
        clean: false, // keep the session so the broker queues commands while the station is away
        keepalive: KEEPALIVE_S,
        connectTimeout: 10_000,
        reconnectPeriod: 0, // reconnects are ours, with backoff (MQTT.js retries at a fixed period)
        resubscribe: false, // we subscribe on every connect ourselves
        // [MQTT-3.1.2-8] the broker publishes this if the link dies without a DISCONNECT.
        will: { topic: statusTopic, payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
        ...opts.mqttOptions,
      });
      client = c;
      const firstAttempt = new Promise<void>((resolve) => {
        c.once('connect', () => resolve());
        c.once('close', () => resolve());
      });
      c.on('connect', (connack) => {
        backoffMs = cfg.backoff.initialMs;
        log.info({ sessionPresent: connack.sessionPresent, buffered: buffer.length }, 'connected');
        c.publish(statusTopic, statusPayload(true), { qos: 1, retain: true }, (err) => {
          if (err) log.warn({ err }, 'status publish failed');
        });
        c.subscribe(cmdTopic, { qos: 1 }, (err) => {
          if (err) log.warn({ err, topic: cmdTopic }, 'cmd subscribe failed');
        });
        flush(c);
      });
      c.on('message', (topic, payload) => {
        if (topic === cmdTopic) applyCommand(payload);
      });
      c.on('error', (err) => log.warn({ err: err.message }, 'mqtt error'));
      c.on('close', () => {
        if (stopping) return;
        log.info({ buffered: buffer.length }, 'disconnected');
        scheduleReconnect();
      });
      await firstAttempt;
      if (firstReportMs > 0) {
        lastTickAt = performance.now() + firstReportMs - intervalMs; // as if the last tick was one interval before the first
        schedule(firstReportMs);
      } else {
        lastTickAt = performance.now();
        tick();
        schedule(intervalMs);
      }
    },

    async stop() {
      const c = client;
      if (!c) return;
      stopping = true;
      clearTimeout(tickTimer);
      clearTimeout(reconnectTimer);
      tickTimer = reconnectTimer = undefined;
      // A DISCONNECT makes the broker discard the will [MQTT-3.14.4-3], so say offline ourselves.
      if (c.connected) {
        const graceful = async () => {
          await c.publishAsync(statusTopic, statusPayload(false), { qos: 1, retain: true });
          await c.endAsync();
        };
        const timedOut = await withTimeout(graceful(), STOP_TIMEOUT_MS).catch((err: unknown) => {
          log.warn({ err }, 'graceful stop failed');
          return true;
        });
        if (timedOut) await c.endAsync(true);
      } else {
        await c.endAsync(true);
      }
      client = undefined;
      if (buffer.length > 0) log.warn({ unsent: buffer.length }, 'stopped with unsent readings');
      log.info({ published, dropped }, 'stopped');
    },

    publishReading(values: Values) {
      const now = clock.now();
      return send({ ts: now, seq: seq++, m: { ...values } });
    },

    stats() {
      return { connected: client?.connected ?? false, seq, intervalMs, buffered: buffer.length, dropped, published };
    },
  };
}

/** Resolves false when `p` settles in time, true on timeout. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  try {
    return await Promise.race([p.then(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
