import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import type { AlertEvent } from '../contract/alert.ts';
import type { Bus } from '../contract/bus.ts';
import type { Observation } from '../contract/obs.ts';
import { subscriptions } from '../contract/topics.ts';
import type { Logger } from '../lib/log.ts';
import type { Station } from '../contract/station.ts';
import type { StateStore, TimeSeriesStore } from '../store/types.ts';
import { createAlertChain } from './alert-chain.ts';
import type { EvalContext } from './dispatch.ts';
import { createEngineMetrics } from './engine-metrics.ts';
import { createTick } from './engine-ticks.ts';
import { createReadingHandler } from './evaluate-reading.ts';
import { obsMessageHandler } from './obs-messages.ts';
import { createOperatorActions, type OperatorActions } from './operator-actions.ts';
import { readReplay } from './replay.ts';
import { createAlertRestore } from './restore-alerts.ts';
import { indexRules, WindowSet, type RuleIndex } from './rule-index.ts';
import { createRuleSlots } from './rule-slots.ts';
import type { RuleSet } from './schema.ts';
import { loadStandards, type Standards } from './standards.ts';
import { createWindowWarmer } from './warm-windows.ts';
import { createFireCheck } from './fire-tick.ts';

/**
 * The rules service: observations in (`observe()` from ingest in the same process, or
 * `huewatch/v1/obs/+` on the bus), alert events out (`huewatch/v1/alerts/{areaCode}/{key}`,
 * retained while active). Decisions are made by the pure cores (dispatch.ts) over the rules indexed
 * by station (rule-index.ts); this file and the modules it wires do the I/O: state, store, windows,
 * timers, bus, metrics.
 *
 * An observation is evaluated at once, in memory, without awaiting anything: rule state changes
 * only mark records dirty, and the dirty records are written in one batch every `stateFlushMs`.
 * Only alert work waits, in the one serial queue (alert-chain.ts): a reading's event is published,
 * then its record and history entry are written; a tick's or an operator's is written, then published.
 */

export interface RulesEngineEvents {
  /** each alert event published (not the re-publication of retained alerts at start) */
  alert: [AlertEvent];
}

/** setInterval with a handle, injected so tests drive time (STYLE.md: fake timers for staleness). */
export interface Scheduler {
  every(ms: number, fn: () => void): { cancel(): void };
}
export const realScheduler: Scheduler = {
  every(ms, fn) {
    const h = setInterval(fn, ms);
    h.unref();
    return { cancel: () => clearInterval(h) };
  },
};

export interface RulesEngineOptions {
  rules: RuleSet;
  stations: readonly Station[];
  /**
   * The bus (contract/bus.ts): an MQTT.js client logged in as the 'rules' service account, or the
   * broker's in-process bus (broker/local-bus.ts). Named `mqtt` for the callers that predate it.
   */
  mqtt: Bus;
  /**
   * Subscribe to `huewatch/v1/obs/+` on the bus (default true). The platform passes false when its
   * ingest, in the same process, hands observations to `observe()` itself.
   */
  subscribeObs?: boolean;
  state: StateStore;
  /** warms rolling windows at start (rain 24 h, rate of rise, AQI 12 h); absent = cold windows */
  series?: Pick<TimeSeriesStore, 'series'>;
  standards?: Standards;
  log: Logger;
  metrics: Registry;
  clock: { now(): number };
  scheduler?: Scheduler;
  /** how often time-driven checks run (staleness, acknowledgement timeouts); default 30 s */
  tickMs?: number;
  /** how often changed rule state is written, all of it in one batch; default 250 ms (and at stop) */
  stateFlushMs?: number;
}

export interface RulesEngine {
  start(): Promise<void>;
  /**
   * One validated observation from ingest in the same process, in observation-time order per
   * station. Evaluated synchronously in memory; an alert event it causes is persisted and published
   * through the serial queue. Ignored before start() and after stop().
   */
  observe(obs: Observation): void;
  stop(): Promise<void>;
  /** Swap the rules in force (after a successful reload); state of rules that remain is kept. */
  setRules(rules: RuleSet): void;
  /** Runs the time-driven checks now (the scheduler calls this every `tickMs`). */
  tick(): Promise<void>;
  /** Operator actions (acknowledge, cancel, release orders): see operator-actions.ts. */
  readonly operator: OperatorActions;
  readonly events: EventEmitter<RulesEngineEvents>;
}

const DEFAULT_TICK_MS = 30_000;
/** a reading may be lost from rule state for this long after a kill -9: the replay at start finds it */
const DEFAULT_STATE_FLUSH_MS = 250;

/**
 * Wires the parts: records and their batched writes (rule-slots.ts), the queue and the alert
 * settle/persist chain (alert-chain.ts), readings (evaluate-reading.ts), windows warmed from the
 * store (warm-windows.ts), ticks (engine-ticks.ts), restore and re-publication (restore-alerts.ts),
 * operator actions; and the bus (obs-messages.ts).
 */
export function createRulesEngine(opts: RulesEngineOptions): RulesEngine {
  const { mqtt, state: store, clock } = opts;
  const log = opts.log.child({ module: 'rules' });
  const events = new EventEmitter<RulesEngineEvents>();
  const stations = new Map(opts.stations.map((s) => [s.id, s]));
  const standards = opts.standards ?? loadStandards();
  const scheduler = opts.scheduler ?? realScheduler;
  let rules = opts.rules;
  let index: RuleIndex = indexRules(rules.rules);
  const windows = new WindowSet(index.needs);
  const ctx: EvalContext = { standards, windowOf: windows.windowOf };
  let running = false;
  let timers: Array<{ cancel(): void }> = [];
  /** set at start: a 'connect' after it is a reconnection (the broker may have forgotten retained alerts) */
  let connectedOnce = false;

  const m = createEngineMetrics(opts.metrics);
  const slots = createRuleSlots({ store, m, log });
  const chain = createAlertChain({ mqtt, store, slots, events, m, log });
  const warmer = createWindowWarmer({ series: opts.series, windows, index: () => index, clock, m, log });
  const evaluate = createReadingHandler({ stations, index: () => index, windows, ctx, cold: warmer.cold, slots, chain, clock, m, log });
  const checkDeps = { rules: () => rules.rules, stations, slots, chain, series: opts.series, standards, clock, m, log };
  const fire = createFireCheck(checkDeps);
  const tick = createTick({ ...checkDeps, fire, warmer });
  /** a reading through the rules; a weather station's also has its fire-danger index read again (throttled per rule) */
  function handle(obs: Observation, now?: number): void {
    evaluate(obs, now);
    if (stations.get(obs.station)?.kind === 'weather') void fire.station(obs.station, clock.now()).catch(() => undefined); // logged per rule
  }
  const { restore, republish } = createAlertRestore({ mqtt, store, slots, chain, rules: () => rules.rules, log });

  /** The smallest persisted lastTs of a station's rules (null: none has one). */
  function lastTsOf(station: string): number | null {
    let min: number | null = null;
    for (const { rule } of index.of(station)) {
      const t = slots.slots.get(rule.id)?.rec.level.lastTs ?? null;
      if (t !== null && (min === null || t < min)) min = t;
    }
    return min;
  }

  const onMessage = obsMessageHandler({ running: () => running, handle, m, log });

  function onConnect(): void {
    if (!running) return;
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    log.info('bus reconnected: re-publishing the open alerts');
    void chain.serialAfterWrites(republish).catch(() => undefined); // logged by serial
  }

  const operator = createOperatorActions({
    serial: chain.serialAfterWrites, commit: chain.commit, store, log, clock, stations,
    rules: () => rules.rules,
    records: () => [...slots.slots.values()].map((s) => s.rec),
    putRecord: (rec) => slots.putRecord(rec, rules.rules.some((r) => r.id === rec.ruleId && r.kind === 'release')),
  });

  const subscribeObs = opts.subscribeObs ?? true;

  return {
    events,
    operator,
    tick,
    observe(obs) {
      if (running) handle(obs);
    },
    setRules(next) {
      rules = next;
      index = indexRules(next.rules);
      windows.reshape(index.needs);
      log.info({ file: next.file, rules: next.rules.length }, 'rules in force replaced');
    },
    async start() {
      index = indexRules(rules.rules);
      windows.reshape(index.needs);
      await restore();
      const now = clock.now();
      const replay = opts.series
        ? await readReplay(opts.series, index, lastTsOf, now, (station, err) => log.warn({ err, station }, 'readings since the last rule state not replayed: the store did not answer'))
        : { from: new Map<string, number>(), observations: [] };
      await warmer.warm(index.needs.keys(), replay.from);
      // before any live reading: what was stored but never evaluated, in time order
      for (const obs of replay.observations) {
        handle(obs, now);
        m.replayed.inc();
      }
      if (replay.observations.length > 0) log.info({ observations: replay.observations.length, stations: replay.from.size }, 'stored readings replayed');
      await chain.queue;
      running = true;
      connectedOnce = mqtt.connected;
      mqtt.on('connect', onConnect);
      timers = [
        scheduler.every(opts.tickMs ?? DEFAULT_TICK_MS, () => void tick().catch(() => undefined)), // logged by serial and per rule
        scheduler.every(opts.stateFlushMs ?? DEFAULT_STATE_FLUSH_MS, slots.timedFlush),
      ];
      if (subscribeObs) {
        mqtt.on('message', onMessage);
        const granted = await mqtt.subscribeAsync(subscriptions.allObs, { qos: 1 });
        // 0x80: the broker refused the subscription (ACL) [MQTT-3.9.3]; without it the engine is blind.
        if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${subscriptions.allObs} refused by the broker`);
      }
      log.info({ rules: rules.rules.length, restored: slots.slots.size, windows: windows.size, replayed: replay.observations.length }, 'rules engine started');
    },
    async stop() {
      const wasRunning = running;
      running = false;
      for (const t of timers) t.cancel();
      timers = [];
      mqtt.off('connect', onConnect);
      if (subscribeObs) {
        mqtt.off('message', onMessage);
        if (wasRunning && mqtt.connected) await mqtt.unsubscribeAsync(subscriptions.allObs);
      }
      await fire.settled();
      await chain.drain();
      // SIGTERM: the newest accepted reading of every rule is written, so none is evaluated twice
      await slots.flush().catch(() => undefined); // logged and counted in flush
    },
  };
}
