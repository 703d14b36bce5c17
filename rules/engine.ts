import { EventEmitter } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertEvent } from '../contract/alert.ts';
import type { Bus } from '../contract/bus.ts';
import { qualityOf } from '../contract/metrics.ts';
import { observation, type Observation } from '../contract/obs.ts';
import { parseTopic, subscriptions, topics } from '../contract/topics.ts';
import type { Logger } from '../lib/log.ts';
import type { Station } from '../contract/station.ts';
import type { StateStore, TimeSeriesStore } from '../store/types.ts';
import { ackEscalationEvent, buildRuleEvent, uuidFor, isOpen, isoSeconds, publishEvent, restyle, staleEvent } from './alerts.ts';
import { describeResult, evaluateResult, windowNeeds, type EvalContext, type Outcome } from './dispatch.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import { arrivedLate, asLate, maxLagOf } from './lateness.ts';
import { initialLevelState, type LevelState } from './level.ts';
import { RULE_STATE_NAMESPACE, type RuleRecord } from './record.ts';
import { createOperatorActions, type OperatorActions } from './operator-actions.ts';
import { readReplay } from './replay.ts';
import { concernsIndexed, indexRules, windowKey, WindowSet, type RuleIndex } from './rule-index.ts';
import { alertKey, type Rule, type RuleSet } from './schema.ts';
import { stalenessTick } from './staleness.ts';
import { loadStandards, type Standards } from './standards.ts';
import { push, type Window } from './window.ts';

/**
 * The rules service: observations in (`observe()` from ingest in the same process, or
 * `huewatch/v1/obs/+` on the bus), alert events out (`huewatch/v1/alerts/{areaCode}/{key}`,
 * retained while active). Decisions are made by the pure cores (dispatch.ts) over the rules indexed
 * by station (rule-index.ts); this file does the I/O: state, store, windows, timers, bus, metrics.
 *
 * An observation is evaluated at once, in memory, without awaiting anything: rule state changes
 * only mark records dirty, and the dirty records are written in one batch every `stateFlushMs`.
 * Only an alert event waits, in the one serial queue: its record is written, then the event is
 * appended to the history, then published.
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
/** how often windows the store could not fill at start are tried again (from the tick) */
const WARM_RETRY_MS = 30_000;

/** A rule's record in memory, with what the batched writes need to know about it. */
interface Slot {
  rec: RuleRecord;
  /**
   * Alert work queued for this rule and not yet written. While it is, the periodic flush leaves the
   * record alone: a level written without the alert it raised would, after a crash, never raise it.
   */
  inflight: number;
}

export function createRulesEngine(opts: RulesEngineOptions): RulesEngine {
  const { mqtt, state: store, clock } = opts;
  const log = opts.log.child({ module: 'rules' });
  const events = new EventEmitter<RulesEngineEvents>();
  const stations = new Map(opts.stations.map((s) => [s.id, s]));
  const standards = opts.standards ?? loadStandards();
  const scheduler = opts.scheduler ?? realScheduler;
  const slots = new Map<string, Slot>();
  /** rule ids whose record changed since it was last written */
  const dirty = new Set<string>();
  let rules = opts.rules;
  let index: RuleIndex = indexRules(rules.rules);
  const windows = new WindowSet(index.needs);
  const ctx: EvalContext = { standards, windowOf: windows.windowOf };
  /** windows the store could not fill at start: retried every WARM_RETRY_MS from the tick */
  const cold = new Set<string>();
  let lastWarmAttempt = 0;
  let running = false;
  let timers: Array<{ cancel(): void }> = [];
  /** set at start: a 'connect' after it is a reconnection (the broker may have forgotten retained alerts) */
  let connectedOnce = false;
  // One queue for all I/O work: alert events in the order their observations arrived, ticks and
  // operator actions between them. Composite rules read several stations, so per-station queues
  // could race on their state.
  let queue: Promise<unknown> = Promise.resolve();
  /** writes of rule state, one after the other: a later snapshot never lands under an older one */
  let writes: Promise<unknown> = Promise.resolve();
  let timedFlushRunning = false;
  /** a late reading that would have changed an alert is logged, at most once a minute per rule */
  const lateLog = new ThrottledLog(log, 60_000, () => clock.now());
  /** maxLag per rule (its own, else its station kind's): rules are never mutated */
  const maxLags = new WeakMap<Rule, number>();
  const maxLag = (rule: Rule): number => {
    let ms = maxLags.get(rule);
    if (ms === undefined) maxLags.set(rule, (ms = maxLagOf(rule, stations.get(rule.station)?.kind)));
    return ms;
  };

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (opts.metrics.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [opts.metrics] });
  const m = {
    evaluations: counter('huewatch_rules_evaluations_total', 'Rule evaluations of one reading'),
    ignored: counter('huewatch_rules_readings_ignored_total', 'Readings a rule ignored (late, out of range)', ['reason']),
    events: counter('huewatch_alert_events_total', 'Alert events published', ['msgType']),
    obsInvalid: counter('huewatch_rules_obs_invalid_total', 'Observation messages dropped as invalid'),
    obsHandled: counter('huewatch_rules_obs_handled_total', 'Observations fully handled (evaluated, persisted, published)'),
    replayed: counter('huewatch_rules_replayed_total', 'Stored readings evaluated at start because rule state had not recorded them'),
    stateWrites: counter('huewatch_rules_state_writes_total', 'Batched writes of rule state'),
    stateWriteFailures: counter('huewatch_rules_state_write_failures_total', 'Batched writes of rule state that failed (the records stay dirty)'),
    errors: counter('huewatch_rules_errors_total', 'Rule evaluations that failed', ['rule']),
    coldWindows: (opts.metrics.getSingleMetric('huewatch_rules_cold_windows') as Gauge | undefined)
      ?? new Gauge({ name: 'huewatch_rules_cold_windows', help: 'Rolling windows not yet warmed from the store (it did not answer)', registers: [opts.metrics] }),
  };

  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = queue.then(work);
    queue = next.catch((err: unknown) => log.error({ err }, 'rules work failed'));
    return next;
  }

  /** Persist first (the event and its cause in the history), then tell the world. */
  async function commit(event: AlertEvent, cause: unknown): Promise<void> {
    await store.appendAlertEvent(event, cause);
    await publishEvent(mqtt, event);
    announce(event);
  }

  /** Counted, logged and told to in-process listeners once it is out. */
  function announce(event: AlertEvent): void {
    m.events.inc({ msgType: event.msgType });
    // `alertLevel`, not `level`: pino's own field would be overwritten
    log.info({ id: event.id, key: event.key, msgType: event.msgType, alertLevel: event.level, eventSeq: event.eventSeq, status: event.status }, 'alert event');
    events.emit('alert', event);
  }

  function slotOf(rule: Rule): Slot {
    let slot = slots.get(rule.id);
    if (!slot) slots.set(rule.id, (slot = { rec: { ruleId: rule.id, key: alertKey(rule), level: initialLevelState(), alert: null }, inflight: 0 }));
    return slot;
  }

  /**
   * Writes every dirty record not held by queued alert work, plus `extra` (the record of an alert
   * being committed, at the level of its transition), in ONE batch. A failed batch leaves the
   * records dirty for the next flush.
   */
  function flush(extra?: RuleRecord): Promise<void> {
    const run = writes.then(async () => {
      const changes: Array<{ key: string; value: RuleRecord }> = [];
      for (const id of dirty) {
        const slot = slots.get(id);
        if (!slot) dirty.delete(id);
        else if (slot.inflight === 0) changes.push({ key: id, value: { ...slot.rec } }); // level and alert objects are never mutated: a shallow copy is a snapshot
      }
      if (extra) changes.push({ key: extra.ruleId, value: extra });
      if (changes.length === 0) return;
      for (const c of changes) if (c.value !== extra) dirty.delete(c.key);
      try {
        await store.writeJsonBatch(RULE_STATE_NAMESPACE, changes);
        m.stateWrites.inc();
      } catch (err) {
        for (const c of changes) if (c.value !== extra) dirty.add(c.key);
        m.stateWriteFailures.inc();
        log.error({ err, records: changes.length }, 'rule state not written: kept for the next flush');
        throw err;
      }
    });
    writes = run.catch(() => undefined);
    return run;
  }

  function timedFlush(): void {
    if (timedFlushRunning || dirty.size === 0) return;
    timedFlushRunning = true;
    flush().catch(() => undefined).finally(() => (timedFlushRunning = false)); // logged and counted in flush
  }

  /**
   * The I/O of one alert change of a rule, run in the queue: `decide` builds the event (it may read
   * the store) and the record's new alert fields; the record is written, then the event committed.
   * Until the write, the rule is held out of the periodic flush (`inflight`, taken by the caller);
   * a failure before it puts the record back as it was, so the next reading or tick tries again.
   */
  async function settle(
    slot: Slot, before: LevelState, after: LevelState,
    decide: () => Promise<{ event?: AlertEvent | undefined; cause: unknown; fields: Partial<RuleRecord> }>,
    { publishFirst = false } = {},
  ): Promise<void> {
    const rec = slot.rec;
    const saved: Partial<RuleRecord> = { alert: rec.alert, cause: rec.cause, stale: rec.stale, ackEscalated: rec.ackEscalated };
    let held = true;
    let written = false;
    try {
      const d = await decide();
      // A reading's alert goes out before it is written (its id is the same whenever the reading
      // is evaluated, rules/alerts.ts uuidFor): residents hear it without waiting for the store.
      // Killed before the write, the engine evaluates the reading again at start (replay) and the
      // same event comes out again, which consumers dedupe by id and eventSeq.
      const published = publishFirst && d.event ? (await publishEvent(mqtt, d.event), announce(d.event), true) : false;
      Object.assign(rec, d.fields);
      slot.inflight--;
      held = false;
      dirty.add(rec.ruleId);
      if (published) {
        // written in a chain of its own, in order: the next reading's alert does not wait for it
        written = true;
        persistLater(d.event!, d.cause, slot.inflight > 0 ? { ...rec, level: after } : undefined);
        return;
      }
      // later alert work of this rule still queued: write this change at its own level only
      await flush(slot.inflight > 0 ? { ...rec, level: after } : undefined);
      written = true;
      if (d.event) await commit(d.event, d.cause);
    } finally {
      if (held) slot.inflight--;
      if (!written) {
        Object.assign(rec, saved);
        if (rec.level === after) rec.level = before;
        dirty.add(rec.ruleId);
      }
    }
  }

  /**
   * Published alert events being written (record, then history), in order. Whatever reads the
   * store for an alert's shape (operator actions, ticks) waits for it first; until then the
   * engine's own records are the newest shape (latestAlert).
   */
  let persisting: Promise<void> = Promise.resolve();
  let persistPending = 0;
  function persistLater(event: AlertEvent, cause: unknown, extra: RuleRecord | undefined): void {
    persistPending++;
    persisting = persisting.then(async () => {
      try {
        await flush(extra);
        await store.appendAlertEvent(event, cause);
      } catch (err) {
        // the record stays dirty (flush) and holds the event: latestAlert writes it on the next change
        m.errors.inc({ rule: extra?.ruleId ?? event.key });
        log.error({ err, id: event.id, eventSeq: event.eventSeq }, 'alert event published but not yet written: kept in rule state');
      } finally {
        persistPending--;
      }
    });
  }
  /** serial work that reads alerts from the store: after the published events are written */
  const serialAfterWrites = <T>(work: () => Promise<T>): Promise<T> => serial(async () => {
    await persisting;
    return work();
  });

  /** Runs `work` in the queue; a failure is counted against the rule, never stops the others. */
  function queued(rule: Rule, what: string, work: () => Promise<void>): void {
    void serial(work).catch((err: unknown) => {
      m.errors.inc({ rule: rule.id });
      log.error({ err, rule: rule.id }, what);
    });
  }

  /** For operator actions: the record's alert fields (not its level: readings own that) are written now. */
  async function putRecord(rec: RuleRecord): Promise<void> {
    const slot = slots.get(rec.ruleId);
    if (!slot) slots.set(rec.ruleId, { rec: { ...rec }, inflight: 0 });
    else {
      Object.assign(slot.rec, { alert: rec.alert, cause: rec.cause, stale: rec.stale, ackEscalated: rec.ackEscalated });
      // a release rule's level is the operator's (no reading moves it)
      if (rules.rules.some((r) => r.id === rec.ruleId && r.kind === 'release')) slot.rec.level = rec.level;
    }
    dirty.add(rec.ruleId);
    await flush();
  }

  /** The newest shape of a rule's alert: the store's (operators act there) or ours. */
  async function latestAlert(rec: RuleRecord): Promise<AlertEvent | null> {
    if (!rec.alert) return null;
    if (persistPending > 0) return rec.alert; // the store lags the published events: ours are newer
    const stored = await store.getAlert(rec.alert.id);
    if (stored && stored.eventSeq >= rec.alert.eventSeq) return stored;
    await store.appendAlertEvent(rec.alert, rec.cause ?? { recovered: RULE_STATE_NAMESPACE });
    log.warn({ id: rec.alert.id, eventSeq: rec.alert.eventSeq }, 'alert event missing from the store: recovered from rule state');
    return rec.alert;
  }

  async function publishRetained(alert: AlertEvent): Promise<void> {
    // The same event again (same id and eventSeq): consumers dedupe, a wiped broker is healed.
    for (const code of alert.area.codes) await mqtt.publishAsync(topics.alert(code, alert.key), JSON.stringify(alert), { qos: 1, retain: true });
    log.info({ id: alert.id, key: alert.key, eventSeq: alert.eventSeq }, 'active alert re-published');
  }

  async function restore(): Promise<void> {
    for (const { key, value } of await store.listJson<RuleRecord>(RULE_STATE_NAMESPACE)) {
      slots.set(key, { rec: value, inflight: 0 });
      const latest = await latestAlert(value);
      if (!latest) continue;
      // an operator's change that reached the history but not the record before a stop
      if (latest.eventSeq > value.alert!.eventSeq) {
        value.alert = latest;
        dirty.add(key);
      }
      if (!rules.rules.some((r) => r.id === key)) log.warn({ rule: key, id: latest.id }, 'rule is gone but its alert is open: an operator must cancel it');
      if (isOpen(latest)) await publishRetained(latest);
      else {
        for (const code of latest.area.codes) await mqtt.publishAsync(topics.alert(code, latest.key), '', { qos: 1, retain: true });
        value.alert = null;
        dirty.add(key);
      }
    }
    if (dirty.size > 0) await flush();
  }

  /** A broker restarted apart has forgotten its retained messages: every open alert again. */
  async function republish(): Promise<void> {
    for (const slot of slots.values()) {
      const latest = await latestAlert(slot.rec);
      if (isOpen(latest)) await publishRetained(latest);
    }
  }

  /**
   * Rolling windows from the time-series store, so a restart does not forget the last 24 h. A store
   * that cannot answer (InfluxDB down at start) must not keep the engine from starting: level rules
   * need no history. The windows it could not fill stay cold and are filled on later ticks, merged
   * under the readings that arrived meanwhile. `upTo` (per station, exclusive): where the replay of
   * readings never evaluated takes over, so none is counted twice.
   */
  async function warm(keys: Iterable<string>, upTo: ReadonlyMap<string, number> = new Map()): Promise<void> {
    if (!opts.series) return;
    const now = clock.now();
    lastWarmAttempt = now;
    for (const k of keys) {
      const need = index.needs.get(k);
      if (!need) {
        cold.delete(k);
        continue;
      }
      let points: Array<{ ts: number; value: number }>;
      try {
        points = await opts.series.series({ station: need.station, metric: need.metric, from: now - need.span, to: upTo.get(need.station) ?? now + 1 });
      } catch (err) {
        if (!cold.has(k)) log.warn({ err, station: need.station, metric: need.metric }, 'window not warmed: the store did not answer; accumulations and rates under-count until it does');
        cold.add(k);
        continue;
      }
      const live = windows.windowOf(need.station, need.metric);
      const firstLive = live[0]?.ts ?? Infinity;
      const w: Window = [];
      // series() carries no quality flag: out-of-range values are filtered as ingest flags them.
      for (const p of points) if (p.ts < firstLive && qualityOf(need.metric, p.value) === 'ok') push(w, p, need.span);
      for (const p of live) push(w, p, need.span);
      windows.set(need.station, need.metric, w);
      if (cold.delete(k)) log.info({ station: need.station, metric: need.metric }, 'window warmed from the store');
    }
    m.coldWindows.set(cold.size);
  }

  /** The smallest persisted lastTs of a station's rules (null: none has one). */
  function lastTsOf(station: string): number | null {
    let min: number | null = null;
    for (const { rule } of index.of(station)) {
      const t = slots.get(rule.id)?.rec.level.lastTs ?? null;
      if (t !== null && (min === null || t < min)) min = t;
    }
    return min;
  }

  /**
   * One observation through one rule, in memory. Nothing is awaited: the new state is kept and
   * marked dirty; an alert change is handed to the queue.
   */
  function evaluate(rule: Rule, obs: Observation, now: number, receivedAt: number): void {
    const slot = slotOf(rule);
    const rec = slot.rec;
    let res = evaluateResult(rule, rec.level, obs, ctx, now);
    if (!res) return;
    // Not current (received long after it was observed): recorded, never an alert change (lateness.ts).
    // Staleness judges receipt itself.
    if (rule.kind !== 'staleness' && arrivedLate(obs.ts, receivedAt, maxLag(rule))) {
      if (res.transition) {
        lateLog.warn(rule.id, { rule: rule.id, station: obs.station, ts: obs.ts, receivedAt, level: res.transition.to, value: res.transition.value },
          'a reading that arrived late would have changed the alert level: stored and recorded, not alerted');
      }
      res = asLate(rec.level, res);
    }
    m.evaluations.inc();
    if (res.ignored) m.ignored.inc({ reason: res.ignored });
    if (res.state === rec.level) return;
    // A cold window (the store did not answer at start) under-counts: it may raise an alert, never
    // lower or end one, or residents would hear an all-clear in the middle of the rain.
    if (cold.size > 0 && (res.state.level < rec.level.level || res.state.pending?.dir === 'fall') && windowNeeds(rule).some((n) => cold.has(windowKey(n.station, n.metric)))) {
      m.ignored.inc({ reason: 'window-cold' });
      return;
    }
    const before = rec.level;
    const after = res.state;
    if (res.transition && rule.kind !== 'release') {
      const station = stationOf(rule); // throws before anything changes: the rule fails, the others go on
      const out = describeResult(rule, res, obs, ctx); // now: the windows move on with later readings
      rec.level = after;
      dirty.add(rule.id);
      slot.inflight++;
      const newId = uuidFor(`${rule.id}|${obs.ts}|${res.transition.to}`);
      queued(rule, 'alert event failed', () => settle(slot, before, after, async () => {
        // the engine's own record: operator actions and ticks keep it in step (restore reconciled it with
        // the store), so a reading's alert reads nothing from the store on its way out
        const event = buildRuleEvent(rule, station, out, rec.alert, now, { ...rec, newId });
        const ended = !event || event.msgType === 'Cancel';
        return { event, cause: obs, fields: { alert: ended ? null : event!, cause: ended ? undefined : obs, stale: false, ackEscalated: ended ? false : rec.ackEscalated } };
      }, { publishFirst: true }));
      return;
    }
    rec.level = after;
    dirty.add(rule.id);
    if (rec.stale && !res.ignored) {
      // Data is back: the alert's information is current again (once, however many readings follow).
      rec.stale = false;
      const out = describeResult(rule, res, obs, ctx);
      slot.inflight++;
      queued(rule, 'alert refresh failed', () => settle(slot, after, after, async () => {
        const prev = rec.alert;
        if (!isOpen(prev)) return { cause: obs, fields: { stale: false } };
        const event = restyle(prev, {
          certainty: 'Observed', expires: rule.expires !== undefined ? isoSeconds(now + rule.expires) : null,
          description: stripNote(prev.description), source: { ...out.source, observedAt: new Date(obs.ts).toISOString() },
        }, now);
        return { event, cause: obs, fields: { alert: event, cause: obs, stale: false } };
      }));
    }
  }

  function stationOf(rule: Rule): Station {
    const s = stations.get(rule.station);
    if (!s) throw new Error(`station ${rule.station} is not in the catalogue`);
    return s;
  }

  /**
   * The hot path: windows, then the station's own rules; no await, no store call. `replayedAt`:
   * the engine's start, for a stored reading replayed (its receipt time is not stored: it counts
   * as received now, so a reading already old then does not alarm).
   */
  function handle(obs: Observation, replayedAt?: number): void {
    windows.add(obs);
    const now = clock.now();
    const receivedAt = obs.receivedAt ?? replayedAt ?? obs.ts;
    const tail = queue;
    for (const entry of index.of(obs.station)) {
      if (!concernsIndexed(entry, obs)) continue;
      try {
        evaluate(entry.rule, obs, now, receivedAt);
      } catch (err) {
        // One failing rule never takes the engine down, nor the other rules.
        m.errors.inc({ rule: entry.rule.id });
        log.error({ err, rule: entry.rule.id, station: obs.station, ts: obs.ts }, 'rule evaluation failed');
      }
    }
    // handled = its alert events, if any, persisted and published
    if (queue === tail) m.obsHandled.inc();
    else void serial(async () => m.obsHandled.inc());
  }

  async function tick(): Promise<void> {
    const now = clock.now();
    if (cold.size > 0 && now - lastWarmAttempt >= WARM_RETRY_MS) await warm([...cold]);
    for (const rule of rules.rules) {
      try {
        if (rule.kind === 'staleness') await staleTick(rule, now);
        const slot = slots.get(rule.id);
        if (rule.kind !== 'release' && rule.ackWithin && slot?.rec.alert && !slot.rec.ackEscalated) await ackTick(rule, slot, now);
      } catch (err) {
        m.errors.inc({ rule: rule.id });
        log.error({ err, rule: rule.id }, 'timed rule check failed');
      }
    }
  }

  async function staleTick(rule: Extract<Rule, { kind: 'staleness' }>, now: number): Promise<void> {
    const slot = slotOf(rule);
    const rec = slot.rec;
    const before = rec.level;
    const res = stalenessTick(rule, before, now);
    if (res.state === before) return;
    rec.level = res.state; // at once: a reading evaluated while this awaits sees the new level
    dirty.add(rule.id);
    if (!res.transition) return;
    const station = stationOf(rule);
    const out: Outcome = { result: res, source: { station: rule.station, metric: 'silence_min', value: res.transition.value, threshold: res.transition.threshold } };
    const cause = { tick: new Date(now).toISOString(), lastSeen: new Date(res.state.lastTs!).toISOString() };
    slot.inflight++;
    await settle(slot, before, res.state, async () => {
      const event = buildRuleEvent(rule, station, out, await latestAlert(rec), now);
      return { event, cause, fields: { alert: event ?? null, cause } };
    });
    // Alerts fed by this station expire as stale, not as a silent resolution.
    for (const other of rules.rules) {
      if (other.station !== rule.station || other.kind === 'staleness' || other.kind === 'release' || other.kind === 'sensor-fault') continue;
      const oslot = slots.get(other.id);
      if (!oslot || oslot.rec.stale) continue;
      const open = await latestAlert(oslot.rec);
      if (!isOpen(open)) continue;
      const stale = staleEvent(open, res.state.lastTs!, now);
      oslot.inflight++;
      await settle(oslot, oslot.rec.level, oslot.rec.level, async () => ({ event: stale, cause, fields: { alert: stale, cause, stale: true } }));
    }
  }

  async function ackTick(rule: Exclude<Rule, { kind: 'release' }>, slot: Slot, now: number): Promise<void> {
    const open = await latestAlert(slot.rec);
    const ack = rule.ackWithin!;
    if (!isOpen(open) || open.status !== 'active' || now - Date.parse(open.firstSent) < ack.after) return;
    const event = ackEscalationEvent(open, ack.severity, Math.round(ack.after / 60_000), now);
    const cause = { ackTimeout: { after: ack.after, channels: ack.channels, from: open.severity, to: event.severity }, tick: new Date(now).toISOString() };
    slot.inflight++;
    await settle(slot, slot.rec.level, slot.rec.level, async () => ({ event, cause, fields: { alert: event, cause, ackEscalated: true } }));
  }

  function onMessage(topic: string, payload: Buffer): void {
    if (!running) return;
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'obs') return;
    let obs: Observation;
    try {
      const result = observation.safeParse(JSON.parse(payload.toString('utf8')));
      if (!result.success) throw new Error(result.error.issues[0]?.message ?? 'invalid');
      if (result.data.station !== parsed.id) throw new Error(`station ${result.data.station} does not match the topic`);
      obs = result.data;
    } catch (err) {
      m.obsInvalid.inc();
      log.warn({ topic, problem: (err as Error).message }, 'observation dropped');
      return;
    }
    handle(obs);
  }

  function onConnect(): void {
    if (!running) return;
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    log.info('bus reconnected: re-publishing the open alerts');
    void serialAfterWrites(republish).catch(() => undefined); // logged by serial
  }

  const operator = createOperatorActions({
    serial: serialAfterWrites, commit, store, log, clock, stations,
    rules: () => rules.rules,
    records: () => [...slots.values()].map((s) => s.rec),
    putRecord,
  });

  const subscribeObs = opts.subscribeObs ?? true;

  return {
    events,
    operator,
    tick: () => serialAfterWrites(tick),
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
      await warm(index.needs.keys(), replay.from);
      // before any live reading: what was stored but never evaluated, in time order
      for (const obs of replay.observations) {
        handle(obs, now);
        m.replayed.inc();
      }
      if (replay.observations.length > 0) log.info({ observations: replay.observations.length, stations: replay.from.size }, 'stored readings replayed');
      await queue;
      running = true;
      connectedOnce = mqtt.connected;
      mqtt.on('connect', onConnect);
      timers = [
        scheduler.every(opts.tickMs ?? DEFAULT_TICK_MS, () => void serialAfterWrites(tick)),
        scheduler.every(opts.stateFlushMs ?? DEFAULT_STATE_FLUSH_MS, timedFlush),
      ];
      if (subscribeObs) {
        mqtt.on('message', onMessage);
        const granted = await mqtt.subscribeAsync(subscriptions.allObs, { qos: 1 });
        // 0x80: the broker refused the subscription (ACL) [MQTT-3.9.3]; without it the engine is blind.
        if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${subscriptions.allObs} refused by the broker`);
      }
      log.info({ rules: rules.rules.length, restored: slots.size, windows: windows.size, replayed: replay.observations.length }, 'rules engine started');
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
      await queue;
      await persisting;
      // SIGTERM: the newest accepted reading of every rule is written, so none is evaluated twice
      await flush().catch(() => undefined); // logged and counted in flush
    },
  };
}

/** Removes the "(No data since …)" note that staleEvent appended. */
function stripNote(d: AlertEvent['description']): AlertEvent['description'] {
  return { vi: d.vi.replace(/ \(Mất số liệu từ [^)]*\)$/, ''), en: d.en.replace(/ \(No data since [^)]*\)$/, '') };
}
