import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { Counter, type Registry } from 'prom-client';
import { alertEvent, type AlertEvent } from '../contract/alert.ts';
import { observation, type Observation } from '../contract/obs.ts';
import { parseTopic, subscriptions, topics } from '../contract/topics.ts';
import type { Logger } from '../platform/log.ts';
import type { Station } from '../platform/stations.ts';
import type { StateStore } from '../store/types.ts';
import { alertTexts, defaultSeverity } from './alert-text.ts';
import { evaluateLevel, initialLevelState, type LevelState, type LevelTransition } from './level.ts';
import { alertKey, type Rule, type RuleSet } from './schema.ts';

/**
 * The rules service: observations in (`huewatch/v1/obs/+`), alert events out
 * (`huewatch/v1/alerts/{areaCode}/{key}`, retained while active). The decisions are made by the pure
 * core (level.ts); this file does the I/O: state, store, MQTT, metrics.
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
}

export interface RulesEngineEvents {
  /** each alert event published (not the re-publication of retained alerts at start) */
  alert: [AlertEvent];
}

export interface RulesEngineOptions {
  rules: RuleSet;
  stations: readonly Station[];
  /** connected, logged in as the 'rules' service account */
  mqtt: MqttClient;
  state: StateStore;
  log: Logger;
  metrics: Registry;
  clock: { now(): number };
}

export interface RulesEngine {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Swap the rules in force (after a successful reload); state of rules that remain is kept. */
  setRules(rules: RuleSet): void;
  readonly events: EventEmitter<RulesEngineEvents>;
}

const isOpen = (e: AlertEvent | undefined | null): e is AlertEvent => !!e && (e.status === 'active' || e.status === 'acknowledged');
/** ISO 8601 UTC without fractional seconds: CAP 1.2 §3.3.2 dateTime has none. */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function createRulesEngine(opts: RulesEngineOptions): RulesEngine {
  const { mqtt, state: store, clock } = opts;
  const log = opts.log.child({ module: 'rules' });
  const events = new EventEmitter<RulesEngineEvents>();
  const stations = new Map(opts.stations.map((s) => [s.id, s]));
  const records = new Map<string, RuleRecord>();
  const chains = new Map<string, Promise<void>>();
  let rules = opts.rules;
  let running = false;

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (opts.metrics.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [opts.metrics] });
  const m = {
    evaluations: counter('huewatch_rules_evaluations_total', 'Rule evaluations of one reading'),
    ignored: counter('huewatch_rules_readings_ignored_total', 'Readings a rule ignored (late, out of range)', ['reason']),
    events: counter('huewatch_alert_events_total', 'Alert events published', ['msgType']),
    obsInvalid: counter('huewatch_rules_obs_invalid_total', 'Observation messages dropped as invalid'),
    obsHandled: counter('huewatch_rules_obs_handled_total', 'Observations fully handled (evaluated, persisted, published)'),
    errors: counter('huewatch_rules_errors_total', 'Rule evaluations that failed', ['rule']),
  };

  async function publish(event: AlertEvent): Promise<void> {
    const topic = topics.alert(event.area.codes[0]!, event.key);
    if (event.msgType !== 'Cancel') {
      await mqtt.publishAsync(topic, JSON.stringify(event), { qos: 1, retain: true });
      return;
    }
    // The Cancel reaches live subscribers; then an empty retained payload removes the retained
    // alert so late subscribers see nothing [MQTT-3.3.1-10].
    await mqtt.publishAsync(topic, JSON.stringify(event), { qos: 1, retain: false });
    await mqtt.publishAsync(topic, '', { qos: 1, retain: true });
  }

  /** The newest shape of a rule's alert: the store's (operators acknowledge there) or ours. */
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
      const latest = await latestAlert(value);
      if (!latest) continue;
      if (!rules.rules.some((r) => r.id === key)) log.warn({ rule: key, id: latest.id }, 'rule is gone but its alert is open: an operator must cancel it');
      const topic = topics.alert(latest.area.codes[0]!, latest.key);
      if (isOpen(latest)) {
        // The same event again (same id and eventSeq): consumers dedupe, a wiped broker is healed.
        await mqtt.publishAsync(topic, JSON.stringify(latest), { qos: 1, retain: true });
        log.info({ id: latest.id, key: latest.key, eventSeq: latest.eventSeq }, 'active alert re-published');
      } else {
        await mqtt.publishAsync(topic, '', { qos: 1, retain: true });
        const next = { ...value, alert: null };
        await store.putJson(RULE_STATE_NAMESPACE, key, next);
        records.set(key, next);
      }
    }
  }

  function buildEvent(rule: Rule, t: LevelTransition, prev: AlertEvent | null): AlertEvent | undefined {
    const open = isOpen(prev) ? prev : undefined;
    if (t.to === 0 && !open) return undefined; // nothing to end (an operator already cancelled it)
    const station = stations.get(rule.station);
    if (!station) throw new Error(`station ${rule.station} is not in the catalogue`);
    const now = clock.now();
    const sent = isoSeconds(now);
    const spec = rule.levels.find((l) => l.level === t.to);
    const texts = alertTexts(rule, station, t);
    const lifecycle = open
      ? { id: open.id, eventSeq: open.eventSeq + 1, firstSent: open.firstSent, ...(open.operator ? { operator: open.operator } : {}) }
      : { id: randomUUID(), eventSeq: 1, firstSent: sent };
    const shape =
      t.to === 0
        ? // CAP 1.2 §3.2.2: urgency Past = "responsive action is no longer required".
          { msgType: 'Cancel' as const, status: 'resolved' as const, severity: 'Minor' as const, urgency: 'Past' as const, expires: null }
        : {
            msgType: open ? ('Update' as const) : ('Alert' as const),
            status: open ? open.status : ('active' as const),
            severity: spec?.severity ?? defaultSeverity(t.to),
            urgency: spec?.urgency ?? ('Immediate' as const),
            expires: rule.expires !== undefined ? isoSeconds(now + rule.expires) : null,
          };
    return alertEvent.parse({
      ...lifecycle,
      ...shape,
      key: alertKey(rule),
      event: rule.event,
      category: rule.category,
      certainty: 'Observed', // the level was measured, not forecast
      level: t.to,
      ...texts,
      area: {
        name: { vi: `Khu vực trạm ${station.name} — ${station.areaName}`, en: `Area of ${station.name} station — ${station.areaName}` },
        codes: [station.areaCode],
        circle: { lat: station.lat, lon: station.lon, radiusKm: rule.radiusKm },
      },
      source: { station: rule.station, metric: rule.metric, value: t.value, threshold: t.threshold, observedAt: new Date(t.ts).toISOString() },
      sent,
    });
  }

  async function evaluate(rule: Rule, obs: Observation, reading: Observation['values'][number]): Promise<void> {
    const rec = records.get(rule.id) ?? { ruleId: rule.id, key: alertKey(rule), level: initialLevelState(), alert: null };
    const res = evaluateLevel(rule, rec.level, { ts: obs.ts, value: reading.value, quality: reading.quality });
    m.evaluations.inc();
    if (res.ignored) m.ignored.inc({ reason: res.ignored });
    if (res.state === rec.level) return;
    let next: RuleRecord = { ...rec, level: res.state };
    let event: AlertEvent | undefined;
    if (res.transition) {
      event = buildEvent(rule, res.transition, await latestAlert(rec));
      next = event ? { ...next, alert: event.msgType === 'Cancel' ? null : event, cause: event.msgType === 'Cancel' ? undefined : obs } : { ...next, alert: null };
    }
    // Persist first: state, then the event; only then tell the world.
    await store.putJson(RULE_STATE_NAMESPACE, rule.id, next);
    records.set(rule.id, next);
    if (!event) return;
    await store.appendAlertEvent(event, obs);
    await publish(event);
    m.events.inc({ msgType: event.msgType });
    // `alertLevel`, not `level`: pino's own field would be overwritten
    log.info({ id: event.id, key: event.key, msgType: event.msgType, alertLevel: event.level, eventSeq: event.eventSeq, value: reading.value }, 'alert event');
    events.emit('alert', event);
  }

  async function handle(obs: Observation): Promise<void> {
    for (const rule of rules.rules) {
      if (rule.station !== obs.station) continue;
      for (const reading of obs.values) {
        if (reading.metric !== rule.metric) continue;
        try {
          await evaluate(rule, obs, reading);
        } catch (err) {
          // One failing rule never takes the engine down, nor the other rules.
          m.errors.inc({ rule: rule.id });
          log.error({ err, rule: rule.id, station: obs.station, ts: obs.ts }, 'rule evaluation failed');
        }
      }
    }
  }

  /** Observations of one station are handled one at a time, in arrival order. */
  function enqueue(station: string, work: () => Promise<void>): void {
    const prev = chains.get(station) ?? Promise.resolve();
    const next = prev.then(work).catch((err: unknown) => log.error({ err, station }, 'observation handling failed'));
    chains.set(station, next);
    void next.then(() => {
      if (chains.get(station) === next) chains.delete(station);
    });
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
    enqueue(obs.station, async () => {
      await handle(obs);
      m.obsHandled.inc();
    });
  }

  return {
    events,
    setRules(next) {
      rules = next;
      log.info({ file: next.file, rules: next.rules.length }, 'rules in force replaced');
    },
    async start() {
      await restore();
      running = true;
      mqtt.on('message', onMessage);
      const granted = await mqtt.subscribeAsync(subscriptions.allObs, { qos: 1 });
      // 0x80: the broker refused the subscription (ACL) [MQTT-3.9.3]; without it the engine is blind.
      if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${subscriptions.allObs} refused by the broker`);
      log.info({ rules: rules.rules.length, restored: records.size }, 'rules engine started');
    },
    async stop() {
      running = false;
      mqtt.removeListener('message', onMessage);
      if (mqtt.connected) await mqtt.unsubscribeAsync(subscriptions.allObs);
      await Promise.all([...chains.values()]);
    },
  };
}
