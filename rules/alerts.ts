import { createHash, randomUUID } from 'node:crypto';
import { alertEvent, type AlertEvent, type Severity } from '../contract/alert.ts';
import type { Bus } from '../contract/bus.ts';
import { OPERATORS_AREA, topics } from '../contract/topics.ts';
import type { Station } from '../contract/station.ts';
import { alertTexts, defaultSeverity, nextSeverity } from './alert-text.ts';
import type { Outcome } from './dispatch.ts';
import type { LevelTransition } from './level.ts';
import { alertKey, type Rule } from './schema.ts';

/**
 * Alert events: building them from a transition (CAP 1.2 core, contract/alert.ts), restyling an open
 * alert (acknowledge, cancel, stale, escalation for want of acknowledgement) and publishing them.
 */

/**
 * Area code of alerts meant for operators (device faults, dam operation), not residents: their
 * events are published on `huewatch/v1/ops/alerts/{key}` (contract/topics.ts), not the residents' tree.
 */
export { OPERATORS_AREA };

export const isOpen = (e: AlertEvent | undefined | null): e is AlertEvent & { status: 'active' | 'acknowledged' } => !!e && (e.status === 'active' || e.status === 'acknowledged');
/** ISO 8601 UTC without fractional seconds: CAP 1.2 §3.3.2 dateTime has none. */
export const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

type EventRule = Exclude<Rule, { kind: 'release' }>;

/** Flags of the rule record that shape its events. */
export interface EventFlags {
  /** escalated for want of acknowledgement: severity stays one step up while unacknowledged */
  ackEscalated?: boolean;
  /**
   * The id of a new alert, when it must come out the same for the same cause: the engine
   * publishes an alert raised by a reading before it is stored, and after a crash the reading is
   * evaluated again (rules/replay.ts), so the same event must come out (consumers dedupe by id
   * and eventSeq). Default: a random UUID.
   */
  newId?: string;
}

/**
 * A name-based UUID (RFC 9562 version 5 layout: SHA-1 of the name) for `newId`: the same name,
 * the same id.
 */
export function uuidFor(name: string): string {
  const b = createHash('sha1').update(`huewatch-alert:${name}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function areaOf(rule: Rule, station: Station): AlertEvent['area'] {
  // a forest-fire level speaks for the district the weather station stands for
  const name = rule.kind === 'fire-danger'
    ? { vi: station.areaName, en: station.areaName }
    : { vi: `Khu vực trạm ${station.name} — ${station.areaName}`, en: `Area of ${station.name} station — ${station.areaName}` };
  return {
    name,
    codes: [rule.audience === 'operators' ? OPERATORS_AREA : station.areaCode],
    circle: { lat: station.lat, lon: station.lon, radiusKm: rule.radiusKm },
  };
}

/** VN_AQI category → CAP severity: health advice for the sensitive (Minor) up to everyone at risk (Extreme). */
const AQI_SEVERITY: Record<string, Severity> = { moderate: 'Minor', poor: 'Minor', bad: 'Moderate', 'very bad': 'Severe', hazardous: 'Extreme' };

function severityOf(rule: EventRule, t: LevelTransition, out: Outcome): { severity: Severity; urgency: AlertEvent['urgency'] } {
  if (rule.kind === 'composite') return { severity: rule.severity, urgency: rule.urgency };
  if (rule.kind === 'staleness' || rule.kind === 'sensor-fault') return { severity: 'Minor', urgency: 'Immediate' };
    if (rule.kind === 'aqi') return { severity: AQI_SEVERITY[out.category?.en ?? ''] ?? 'Moderate', urgency: 'Immediate' };
  const spec = rule.levels.find((l) => l.level === t.to);
  return { severity: spec?.severity ?? defaultSeverity(t.to), urgency: spec?.urgency ?? 'Immediate' };
}

/**
 * The event a transition causes, or nothing: a resolve or a de-escalation with no open alert (an
 * operator cancelled it) says nothing; only a rise past the cancelled level raises a new alert.
 */
export function buildRuleEvent(rule: EventRule, station: Station, out: Outcome, prev: AlertEvent | null, now: number, flags: EventFlags = {}): AlertEvent | undefined {
  const t = out.result.transition!;
  const open = isOpen(prev) ? prev : undefined;
  if (!open && (t.to === 0 || t.kind === 'deescalate')) return undefined;
  const sent = isoSeconds(now);
  const { levelName, ...texts } = alertTexts({ rule, station, t, ...(out.metric ? { metric: out.metric } : {}), ...(out.levelName ? { levelName: out.levelName } : {}), ...(out.category ? { category: out.category } : {}), ...(out.rain ? { rain: out.rain } : {}) });
  const lifecycle = open
    ? { id: open.id, eventSeq: open.eventSeq + 1, firstSent: open.firstSent, ...(open.operator ? { operator: open.operator } : {}) }
    : { id: flags.newId ?? randomUUID(), eventSeq: 1, firstSent: sent };
  const { severity, urgency } = severityOf(rule, t, out);
  const shape =
    t.to === 0
      ? // CAP 1.2 §3.2.2: urgency Past = "responsive action is no longer required".
        { msgType: 'Cancel' as const, status: 'resolved' as const, severity: 'Minor' as const, urgency: 'Past' as const, expires: null }
      : {
          msgType: open ? ('Update' as const) : ('Alert' as const),
          status: open ? open.status : ('active' as const),
          severity: flags.ackEscalated && open?.status === 'active' ? nextSeverity(severity) : severity,
          urgency,
          expires: rule.expires !== undefined ? isoSeconds(now + rule.expires) : null,
        };
  return alertEvent.parse({
    ...lifecycle,
    ...shape,
    key: alertKey(rule),
    event: rule.event,
    category: rule.kind === 'staleness' || rule.kind === 'sensor-fault' ? (rule.category === 'Met' ? 'Infra' : rule.category) : rule.category,
    // measured, not forecast; a fire-danger level is a likelihood computed from the weather
    certainty: rule.kind === 'fire-danger' ? 'Likely' : 'Observed',
    level: t.to,
    ...(levelName ? { levelName } : {}),
    ...(out.rain ? { windows: out.rain.windows.map((w) => ({ ...w, window: durationText(w.window) })) } : {}),
    ...texts,
    area: areaOf(rule, station),
    source: { ...out.source, observedAt: new Date(t.ts).toISOString() },
    sent,
  });
}

/** 3600000 → `1h`, 5400000 → `90m`: a window as the rule file writes it. */
const durationText = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`);

/** The next event of an open alert with some fields changed (no new transition). */
export function restyle(prev: AlertEvent, patch: Partial<AlertEvent>, now: number): AlertEvent {
  return alertEvent.parse({ ...prev, msgType: 'Update', ...patch, eventSeq: prev.eventSeq + 1, sent: isoSeconds(now) });
}

const note = (e: AlertEvent, vi: string, en: string): AlertEvent['description'] => ({ vi: `${e.description.vi} ${vi}`, en: `${e.description.en} ${en}` });

/** The source went silent: the alert stays (it is not resolved) but its information is stale. */
export function staleEvent(prev: AlertEvent, lastSeen: number, now: number): AlertEvent {
  const since = new Date(lastSeen).toISOString();
  return restyle(prev, {
    certainty: 'Unknown', // CAP: the observation can no longer be confirmed
    expires: isoSeconds(now), // the information expires now; the alert stays open until data returns
    description: note(prev, `(Mất số liệu từ ${since}: thông tin có thể đã cũ.)`, `(No data since ${since}: this information may be out of date.)`),
  }, now);
}

/** Not acknowledged in time: severity up, channels in the cause (contract has no channel field). */
export function ackEscalationEvent(prev: AlertEvent, severity: Severity | 'next', afterMin: number, now: number): AlertEvent {
  return restyle(prev, {
    severity: severity === 'next' ? nextSeverity(prev.severity) : severity,
    description: note(prev, `(Chưa được xác nhận sau ${afterMin} phút: đã nâng mức.)`, `(Not acknowledged within ${afterMin} min: escalated.)`),
  }, now);
}

/**
 * Every area code of the alert gets it, retained while open; an end clears the retained copy. The
 * operators' code maps to the operators' tree (topics.alert), so residents never receive those.
 */
export async function publishEvent(mqtt: Bus, event: AlertEvent): Promise<void> {
  for (const code of event.area.codes) {
    const topic = topics.alert(code, event.key);
    if (event.msgType !== 'Cancel') {
      await mqtt.publishAsync(topic, JSON.stringify(event), { qos: 1, retain: true });
      continue;
    }
    // The Cancel reaches live subscribers; then an empty retained payload removes the retained
    // alert so late subscribers see nothing [MQTT-3.3.1-10].
    await mqtt.publishAsync(topic, JSON.stringify(event), { qos: 1, retain: false });
    await mqtt.publishAsync(topic, '', { qos: 1, retain: true });
  }
}
