import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertEvent } from '../contract/alert.ts';
import { qualityOf, type MetricName } from '../contract/metrics.ts';
import { observation, type Observation } from '../contract/obs.ts';
import { parseTopic, subscriptions, topics } from '../contract/topics.ts';
import type { Logger } from '../platform/log.ts';
import type { Station } from '../platform/stations.ts';
import type { StateStore, TimeSeriesStore } from '../store/types.ts';
import { ackEscalationEvent, buildRuleEvent, isOpen, isoSeconds, publishEvent, restyle, staleEvent } from './alerts.ts';
import { concerns, evaluateRule, windowNeeds, type Outcome } from './dispatch.ts';
import { initialLevelState, type LevelState } from './level.ts';
import { createOperatorActions, type OperatorActions } from './operator-actions.ts';
import { alertKey, type Rule, type RuleSet } from './schema.ts';
import { stalenessTick } from './staleness.ts';
import { loadStandards, type Standards } from './standards.ts';
import { push, type Window } from './window.ts';

/**
 * The rules service: observations in (`huewatch/v1/obs/+`), alert events out
 * (`huewatch/v1/alerts/{areaCode}/{key}`, retained while active). Decisions are made by the pure
 * cores (dispatch.ts); this file does the I/O: state, store, windows, timers, MQTT, metrics.
 */

export const RULE_STATE_NAMESPACE = 'rule-state';

/** What is persisted per rule (one rule = one station = one alert key). */
export interface RuleRecord {
  ruleId: string;
  key: string;
  level: LevelState;
  /**
   * The last event of the alert this rule has open, or null. Written before the event is appended
   * to the store, so a crash in between is repaired at start rather than raising a second alert.
   */
  alert: AlertEvent | null;
  /** the observation that caused `alert` (the store keeps it as the event's cause) */
  cause?: unknown;
  /** the alert was marked stale (its source went silent); the next accepted reading refreshes it */
  stale?: boolean;
  /** the alert was escalated for want of acknowledgement */
  ackEscalated?: boolean;
}

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
  /** connected, logged in as the 'rules' service account */
  mqtt: MqttClient;
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
}

export interface RulesEngine {
  start(): Promise<void>;
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
/** how often windows the store could not fill at start are tried again (from the tick) */
const WARM_RETRY_MS = 30_000;

export function createRulesEngine(opts: RulesEngineOptions): RulesEngine {
  const { mqtt, state: store, clock } = opts;
  const log = opts.log.child({ module: 'rules' });
  const events = new EventEmitter<RulesEngineEvents>();
  const stations = new Map(opts.stations.map((s) => [s.id, s]));
  const standards = opts.standards ?? loadStandards();
  const records = new Map<string, RuleRecord>();
  /** the level state last written per rule (records may run ahead of it: see mustPersist) */
  const persisted = new Map<string, LevelState>();
  const windows = new Map<string, Window>();
  /** windows the store could not fill at start: retried every WARM_RETRY_MS from the tick */
  const cold = new Set<string>();
  let lastWarmAttempt = 0;
  let spans = new Map<string, { station: string; metric: MetricName; span: number }>();
  let rules = opts.rules;
  let running = false;
  let timer: { cancel(): void } | undefined;
  // One queue for all work: observations in arrival order, ticks and operator actions between them.
  // Composite rules read several stations, so per-station queues could race on their state.
  let queue: Promise<unknown> = Promise.resolve();

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (opts.metrics.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [opts.metrics] });
  const m = {
    evaluations: counter('huewatch_rules_evaluations_total', 'Rule evaluations of one reading'),
    ignored: counter('huewatch_rules_readings_ignored_total', 'Readings a rule ignored (late, out of range)', ['reason']),
    events: counter('huewatch_alert_events_total', 'Alert events published', ['msgType']),
    obsInvalid: counter('huewatch_rules_obs_invalid_total', 'Observation messages dropped as invalid'),
    obsHandled: counter('huewatch_rules_obs_handled_total', 'Observations fully handled (evaluated, persisted, published)'),
    errors: counter('huewatch_rules_errors_total', 'Rule evaluations that failed', ['rule']),
    coldWindows: (opts.metrics.getSingleMetric('huewatch_rules_cold_windows') as Gauge | undefined)
      ?? new Gauge({ name: 'huewatch_rules_cold_windows', help: 'Rolling windows not yet warmed from the store (it did not answer)', registers: [opts.metrics] }),
  };

  const wkey = (station: string, metric: string) => `${station}\u0000${metric}`;
  const windowOf = (station: string, metric: MetricName) => windows.get(wkey(station, metric)) ?? [];

  function computeSpans(): void {
    spans = new Map();
    for (const rule of rules.rules) {
      for (const n of windowNeeds(rule)) {
        const k = wkey(n.station, n.metric);
        spans.set(k, { ...n, span: Math.max(n.span, spans.get(k)?.span ?? 0) });
      }
    }
  }

  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = queue.then(work);
    queue = next.catch((err: unknown) => log.error({ err }, 'rules work failed'));
    return next;
  }

  /** Persist first (the event and its cause in the history), then tell the world. */
  async function commit(event: AlertEvent, cause: unknown): Promise<void> {
    await store.appendAlertEvent(event, cause);
    await publishEvent(mqtt, event);
    m.events.inc({ msgType: event.msgType });
    // `alertLevel`, not `level`: pino's own field would be overwritten
    log.info({ id: event.id, key: event.key, msgType: event.msgType, alertLevel: event.level, eventSeq: event.eventSeq, status: event.status }, 'alert event');
    events.emit('alert', event);
  }

  async function putRecord(rec: RuleRecord): Promise<void> {
    await store.putJson(RULE_STATE_NAMESPACE, rec.ruleId, rec);
    records.set(rec.ruleId, rec);
    persisted.set(rec.ruleId, rec.level);
  }

  const recordOf = (rule: Rule): RuleRecord => records.get(rule.id) ?? { ruleId: rule.id, key: alertKey(rule), level: initialLevelState(), alert: null };

  /** The newest shape of a rule's alert: the store's (operators act there) or ours. */
  async function latestAlert(rec: RuleRecord): Promise<AlertEvent | null> {
    if (!rec.alert) return null;
    const stored = await store.getAlert(rec.alert.id);
    if (stored && stored.eventSeq >= rec.alert.eventSeq) return stored;
    await store.appendAlertEvent(rec.alert, rec.cause ?? { recovered: RULE_STATE_NAMESPACE });
    log.warn({ id: rec.alert.id, eventSeq: rec.alert.eventSeq }, 'alert event missing from the store: recovered from rule state');
    return rec.alert;
  }

  async function restore(): Promise<void> {
    for (const { key, value } of await store.listJson<RuleRecord>(RULE_STATE_NAMESPACE)) {
      records.set(key, value);
      persisted.set(key, value.level);
      const latest = await latestAlert(value);
      if (!latest) continue;
      if (!rules.rules.some((r) => r.id === key)) log.warn({ rule: key, id: latest.id }, 'rule is gone but its alert is open: an operator must cancel it');
      if (isOpen(latest)) {
        // The same event again (same id and eventSeq): consumers dedupe, a wiped broker is healed.
        for (const code of latest.area.codes) await mqtt.publishAsync(topics.alert(code, latest.key), JSON.stringify(latest), { qos: 1, retain: true });
        log.info({ id: latest.id, key: latest.key, eventSeq: latest.eventSeq }, 'active alert re-published');
      } else {
        for (const code of latest.area.codes) await mqtt.publishAsync(topics.alert(code, latest.key), '', { qos: 1, retain: true });
        await putRecord({ ...value, alert: null });
      }
    }
  }

  /**
   * Rolling windows from the time-series store, so a restart does not forget the last 24 h. A store
   * that cannot answer (InfluxDB down at start) must not keep the engine from starting: level rules
   * need no history. The windows it could not fill stay cold and are filled on later ticks, merged
   * under the readings that arrived meanwhile.
   */
  async function warm(keys: Iterable<string>): Promise<void> {
    if (!opts.series) return;
    const now = clock.now();
    lastWarmAttempt = now;
    for (const k of keys) {
      const need = spans.get(k);
      if (!need) {
        cold.delete(k);
        continue;
      }
      let points: Array<{ ts: number; value: number }>;
      try {
        points = await opts.series.series({ station: need.station, metric: need.metric, from: now - need.span, to: now + 1 });
      } catch (err) {
        if (!cold.has(k)) log.warn({ err, station: need.station, metric: need.metric }, 'window not warmed: the store did not answer; accumulations and rates under-count until it does');
        cold.add(k);
        continue;
      }
      const live = windows.get(k) ?? [];
      const firstLive = live[0]?.ts ?? Infinity;
      const w: Window = [];
      // series() carries no quality flag: out-of-range values are filtered as ingest flags them.
      for (const p of points) if (p.ts < firstLive && qualityOf(need.metric, p.value) === 'ok') push(w, p, need.span);
      for (const p of live) push(w, p, need.span);
      windows.set(k, w);
      if (cold.delete(k)) log.info({ station: need.station, metric: need.metric }, 'window warmed from the store');
    }
    m.coldWindows.set(cold.size);
  }

  async function evaluate(rule: Rule, obs: Observation): Promise<void> {
    const rec = recordOf(rule);
    const now = clock.now();
    const out: Outcome | undefined = evaluateRule(rule, rec.level, obs, { standards, windowOf }, now);
    if (!out) return;
    const res = out.result;
    m.evaluations.inc();
    if (res.ignored) m.ignored.inc({ reason: res.ignored });
    if (res.state === rec.level) return;
    // A cold window (the store did not answer at start) under-counts: it may raise an alert, never
    // lower or end one, or residents would hear an all-clear in the middle of the rain.
    if (cold.size > 0 && (res.state.level < rec.level.level || res.state.pending?.dir === 'fall') && windowNeeds(rule).some((n) => cold.has(wkey(n.station, n.metric)))) {
      m.ignored.inc({ reason: 'window-cold' });
      return;
    }
    let next: RuleRecord = { ...rec, level: res.state };
    let event: AlertEvent | undefined;
    if (res.transition && rule.kind !== 'release') {
      event = buildRuleEvent(rule, stationOf(rule), out, await latestAlert(rec), now, rec);
      const ended = !event || event.msgType === 'Cancel';
      next = { ...next, alert: ended ? null : event!, cause: ended ? undefined : obs, stale: false, ackEscalated: ended ? false : rec.ackEscalated };
    } else if (rec.stale && !res.ignored) {
      const prev = await latestAlert(rec);
      if (isOpen(prev)) {
        // Data is back: the alert's information is current again.
        event = restyle(prev, {
          certainty: 'Observed', expires: rule.expires !== undefined ? isoSeconds(now + rule.expires) : null,
          description: stripNote(prev.description), source: { ...out.source, observedAt: new Date(obs.ts).toISOString() },
        }, now);
      }
      next = { ...next, alert: event ?? next.alert, cause: event ? obs : next.cause, stale: false };
    }
    if (event || mustPersist(rule, rec, next)) await putRecord(next);
    else records.set(rule.id, next);
    if (event) await commit(event, obs);
  }

  /**
   * A reading that changes neither the level nor a pending change need not be written: after a
   * restart, replaying it against the same persisted state gives the same nothing (the cores are
   * deterministic), so the late-reading guard stays sound. This keeps the store off the hot path.
   * Staleness needs its newest ts, written when it has moved by a quarter of the allowed silence.
   */
  function mustPersist(rule: Rule, prev: RuleRecord, next: RuleRecord): boolean {
    const [a, b] = [persisted.get(rule.id) ?? prev.level, next.level];
    if (a.level !== b.level || JSON.stringify(a.pending) !== JSON.stringify(b.pending) || prev.stale !== next.stale) return true;
    if (rule.kind === 'staleness') return a.lastTs === null || (b.lastTs ?? 0) - a.lastTs >= rule.maxSilence / 4;
    return false;
  }

  function stationOf(rule: Rule): Station {
    const s = stations.get(rule.station);
    if (!s) throw new Error(`station ${rule.station} is not in the catalogue`);
    return s;
  }

  async function handle(obs: Observation): Promise<void> {
    for (const v of obs.values) {
      const k = wkey(obs.station, v.metric);
      const need = spans.get(k);
      if (!need || v.quality !== 'ok') continue;
      const w = windows.get(k) ?? [];
      windows.set(k, w);
      push(w, { ts: obs.ts, value: v.value }, need.span);
    }
    for (const rule of rules.rules) {
      if (!concerns(rule, obs)) continue;
      try {
        await evaluate(rule, obs);
      } catch (err) {
        // One failing rule never takes the engine down, nor the other rules.
        m.errors.inc({ rule: rule.id });
        log.error({ err, rule: rule.id, station: obs.station, ts: obs.ts }, 'rule evaluation failed');
      }
    }
  }

  async function tick(): Promise<void> {
    const now = clock.now();
    if (cold.size > 0 && now - lastWarmAttempt >= WARM_RETRY_MS) await warm([...cold]);
    for (const rule of rules.rules) {
      try {
        if (rule.kind === 'staleness') await staleTick(rule, now);
        const rec = records.get(rule.id);
        if (rule.kind !== 'release' && rule.ackWithin && rec?.alert && !rec.ackEscalated) await ackTick(rule, rec, now);
      } catch (err) {
        m.errors.inc({ rule: rule.id });
        log.error({ err, rule: rule.id }, 'timed rule check failed');
      }
    }
  }

  async function staleTick(rule: Extract<Rule, { kind: 'staleness' }>, now: number): Promise<void> {
    const rec = recordOf(rule);
    const res = stalenessTick(rule, rec.level, now);
    if (res.state === rec.level) return;
    if (!res.transition) return putRecord({ ...rec, level: res.state });
    const out: Outcome = { result: res, source: { station: rule.station, metric: 'silence_min', value: res.transition.value, threshold: res.transition.threshold } };
    const event = buildRuleEvent(rule, stationOf(rule), out, await latestAlert(rec), now);
    const cause = { tick: new Date(now).toISOString(), lastSeen: new Date(res.state.lastTs!).toISOString() };
    await putRecord({ ...rec, level: res.state, alert: event ?? null, cause });
    if (event) await commit(event, cause);
    // Alerts fed by this station expire as stale, not as a silent resolution.
    for (const other of rules.rules) {
      if (other.station !== rule.station || other.kind === 'staleness' || other.kind === 'release' || other.kind === 'sensor-fault') continue;
      const orec = records.get(other.id);
      const open = orec && !orec.stale ? await latestAlert(orec) : null;
      if (!orec || !isOpen(open)) continue;
      const stale = staleEvent(open, res.state.lastTs!, now);
      await putRecord({ ...orec, alert: stale, cause, stale: true });
      await commit(stale, cause);
    }
  }

  async function ackTick(rule: Exclude<Rule, { kind: 'release' }>, rec: RuleRecord, now: number): Promise<void> {
    const open = await latestAlert(rec);
    const ack = rule.ackWithin!;
    if (!isOpen(open) || open.status !== 'active' || now - Date.parse(open.firstSent) < ack.after) return;
    const event = ackEscalationEvent(open, ack.severity, Math.round(ack.after / 60_000), now);
    const cause = { ackTimeout: { after: ack.after, channels: ack.channels, from: open.severity, to: event.severity }, tick: new Date(now).toISOString() };
    await putRecord({ ...rec, alert: event, cause, ackEscalated: true });
    await commit(event, cause);
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
    void serial(async () => {
      await handle(obs);
      m.obsHandled.inc();
    });
  }

  const operator = createOperatorActions({
    serial, commit, store, log, clock, stations,
    rules: () => rules.rules,
    records: () => records.values(),
    putRecord,
  });

  return {
    events,
    operator,
    tick: () => serial(tick),
    setRules(next) {
      rules = next;
      computeSpans();
      log.info({ file: next.file, rules: next.rules.length }, 'rules in force replaced');
    },
    async start() {
      computeSpans();
      await restore();
      await warm(spans.keys());
      running = true;
      mqtt.on('message', onMessage);
      const granted = await mqtt.subscribeAsync(subscriptions.allObs, { qos: 1 });
      // 0x80: the broker refused the subscription (ACL) [MQTT-3.9.3]; without it the engine is blind.
      if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${subscriptions.allObs} refused by the broker`);
      timer = (opts.scheduler ?? realScheduler).every(opts.tickMs ?? DEFAULT_TICK_MS, () => void serial(tick));
      log.info({ rules: rules.rules.length, restored: records.size, windows: windows.size }, 'rules engine started');
    },
    async stop() {
      running = false;
      timer?.cancel();
      mqtt.removeListener('message', onMessage);
      if (mqtt.connected) await mqtt.unsubscribeAsync(subscriptions.allObs);
      await queue;
    },
  };
}

/** Removes the "(No data since …)" note that staleEvent appended. */
function stripNote(d: AlertEvent['description']): AlertEvent['description'] {
  return { vi: d.vi.replace(/ \(Mất số liệu từ [^)]*\)$/, ''), en: d.en.replace(/ \(No data since [^)]*\)$/, '') };
}
