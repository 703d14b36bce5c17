/**
 * MQTT topic tree of the wire contract (DESIGN.md, "Wire contract"). Every part builds and parses
 * topics through this module so that a change to the tree is one change.
 */
export const TOPIC_ROOT = 'huewatch/v1';

/** Device ids, station ids and area codes travel inside topic levels: keep them to a safe alphabet. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const topics = {
  telemetry: (deviceId: string) => `${TOPIC_ROOT}/telemetry/${deviceId}`,
  status: (deviceId: string) => `${TOPIC_ROOT}/status/${deviceId}`,
  vms: (vesselId: string) => `${TOPIC_ROOT}/vms/${vesselId}`,
  ais: (receiverId: string) => `${TOPIC_ROOT}/ais/${receiverId}`,
  cmd: (deviceId: string) => `${TOPIC_ROOT}/cmd/${deviceId}`,
  obs: (stationId: string) => `${TOPIC_ROOT}/obs/${stationId}`,
  /**
   * What the platform refused of a device's messages, for the device (and its technician) to
   * read: `{"code":"HW_ERR_…","problem":"…","topic":"…","ts":"…"}` (contract/errors.ts codes).
   * MQTT 3.1.1 has no negative acknowledgement, so a refused reading is acknowledged and dropped;
   * this is how the device learns why.
   */
  deviceErrors: (deviceId: string) => `${TOPIC_ROOT}/devices/${deviceId}/errors`,
  /**
   * A resident's SOS (contract/sos.ts `sosRequest`, JSON, QoS 1) from a registered app
   * (`huewatch device add … --app`); the API answers on `sosAnswer` (api/sos/mqtt.ts).
   */
  sos: (deviceId: string) => `${TOPIC_ROOT}/sos/${deviceId}`,
  /** The API's answer to an app's SOS, not retained: `{id, token, status, district, alerts, track}` or `{error: {code, message}}`. */
  sosAnswer: (deviceId: string) => `${TOPIC_ROOT}/devices/${deviceId}/sos`,
  /**
   * One retained topic per alert key below the area, so that every active alert of an area stays
   * retained at once (a single retained topic per area could hold only one). Residents subscribe
   * to `huewatch/v1/alerts/{areaCode}/#`. The operators' area code is not a residents' area: its
   * alerts go to the operators' tree (`opsAlert`), which the broker refuses to residents.
   */
  alert: (areaCode: string, alertKey: string) => (areaCode === OPERATORS_AREA ? opsAlertTopic(alertKey) : `${TOPIC_ROOT}/alerts/${areaCode}/${alertKeyToLevel(alertKey)}`),
  /** An operators-only alert (device offline, sensor fault, dam operation), retained while open. */
  opsAlert: (alertKey: string) => opsAlertTopic(alertKey),
} as const;

/**
 * Area code of the alerts meant for the operations centre only (rules with `audience: operators`:
 * device offline, sensor fault, reservoir operation). Such alerts travel on
 * `huewatch/v1/ops/alerts/{key}`, never on the residents' tree `huewatch/v1/alerts/#`, and the
 * API, CAP, Web Push and webhooks keep them from anonymous callers and residents.
 */
export const OPERATORS_AREA = 'operators';

function opsAlertTopic(alertKey: string): string {
  return `${TOPIC_ROOT}/ops/alerts/${alertKeyToLevel(alertKey)}`;
}

/**
 * Is the alert for operators only? When `operators` is its only area code: an alert that also
 * names a residents' area (a manual alert for a commune and the IOC) is public.
 */
export function isOperatorsOnly(alert: { area: { codes: readonly string[] } }): boolean {
  return alert.area.codes.every((c) => c === OPERATORS_AREA);
}

export const subscriptions = {
  allTelemetry: `${TOPIC_ROOT}/telemetry/+`,
  allStatus: `${TOPIC_ROOT}/status/+`,
  allObs: `${TOPIC_ROOT}/obs/+`,
  /** every app's SOS: the API only */
  allSos: `${TOPIC_ROOT}/sos/+`,
  /** every public alert: the residents' tree */
  allAlerts: `${TOPIC_ROOT}/alerts/#`,
  /** every operators-only alert: only services that hand them on to operators may subscribe */
  opsAlerts: `${TOPIC_ROOT}/ops/alerts/#`,
  areaAlerts: (areaCode: string) => `${TOPIC_ROOT}/alerts/${areaCode}/#`,
} as const;

/** Alert keys look like `flood:kim-long`; `:` is legal in MQTT topics but awkward in URLs and shells. */
export function alertKeyToLevel(key: string): string {
  return key.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export type TopicKind = 'telemetry' | 'status' | 'vms' | 'ais' | 'cmd' | 'obs' | 'alerts';

export interface ParsedTopic {
  kind: TopicKind;
  /** deviceId, vesselId, receiverId, stationId or areaCode, depending on kind */
  id: string;
  /** levels after the id (alerts: the alert key level) */
  rest: string[];
}

/** Parses a topic of our tree; returns undefined for anything else (wildcards included). */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(TOPIC_ROOT + '/')) return undefined;
  const levels = topic.slice(TOPIC_ROOT.length + 1).split('/');
  const [kind, id, ...rest] = levels;
  if (!kind || !id || !ID_PATTERN.test(id)) return undefined;
  if (!['telemetry', 'status', 'vms', 'ais', 'cmd', 'obs', 'alerts'].includes(kind)) return undefined;
  if (kind !== 'alerts' && rest.length > 0) return undefined;
  return { kind: kind as TopicKind, id, rest };
}
