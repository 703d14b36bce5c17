import { create } from 'xmlbuilder2';
import type { AlertEvent } from '../contract/alert.ts';
import { isOperatorsOnly } from '../contract/topics.ts';

/**
 * Alert events as OASIS CAP 1.2 messages (Common Alerting Protocol v1.2, OASIS Standard, 2010) and
 * an Atom feed of the alerts in force. Pure: the caller passes the events (from the store) and the
 * options, nothing here does I/O. Built with xmlbuilder2 so escaping and namespaces are the
 * library's job; the element order is CAP's schema sequence (§3.2, CAP-v1.2.xsd), which a
 * validator enforces.
 */

export const CAP_NS = 'urn:oasis:names:tc:emergency:cap:1.2';
export const ATOM_NS = 'http://www.w3.org/2005/Atom';
export const CAP_CONTENT_TYPE = 'application/cap+xml; charset=utf-8';
export const ATOM_CONTENT_TYPE = 'application/atom+xml; charset=utf-8';

export interface CapOptions {
  /** CAP §3.2.1 sender: globally unique, no spaces, commas or `<` `&` (e.g. `huewatch@hue.gov.vn`) */
  sender: string;
  /** CAP senderName (human-readable), per language */
  senderName: { vi: string; en: string };
  /** absolute base URL of the API, for `web` links and the Atom feed (no trailing slash) */
  baseUrl: string;
}

export const DEFAULT_CAP_OPTIONS: CapOptions = {
  sender: 'huewatch@thuathienhue.gov.vn',
  senderName: { vi: 'HueWatch — Trung tâm Giám sát Điều hành Thừa Thiên Huế', en: 'HueWatch — Thừa Thiên Huế Operations Centre' },
  baseUrl: 'http://127.0.0.1:8080',
};

/**
 * CAP 1.2 §3.2.2 `restriction`, required with scope Restricted: who an alert for operators only
 * (contract/topics.ts OPERATORS_AREA: device faults, dam operation) is for.
 */
export const OPERATORS_RESTRICTION = 'Chỉ dành cho cán bộ vận hành (IOC), không phát công khai. / For HueWatch operators (IOC) only; not for public distribution.';

/** Viet Nam keeps UTC+07:00 all year (no daylight saving since 1975). */
const VN_OFFSET_MS = 7 * 3600_000;

/**
 * CAP §3.3.2 "DateTime Data Type": `YYYY-MM-DDThh:mm:ssXzh:zm`; the schema's pattern refuses
 * fractions of a second and `Z` (FACTS.md). Shown in Huế's local time, as residents read it.
 */
export function capTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new RangeError(`not a date-time: ${iso}`);
  return new Date(Math.floor(ms / 1000) * 1000 + VN_OFFSET_MS).toISOString().slice(0, 19) + '+07:00';
}

/** CAP §3.2.1 identifier of one event: unique per sender, no spaces, commas or `<` `&`. */
export function capIdentifier(ev: Pick<AlertEvent, 'id' | 'eventSeq'>): string {
  return `urn:huewatch:alert:${ev.id.replace(/[\s,<&]/g, '_')}:${ev.eventSeq}`;
}

/** CAP §3.2.1 references: `sender,identifier,sent` of each earlier message, space-separated. */
export function capReferences(earlier: readonly AlertEvent[], opts: Pick<CapOptions, 'sender'>): string {
  return earlier.map((e) => `${opts.sender},${capIdentifier(e)},${capTime(e.sent)}`).join(' ');
}

export interface GeometryCheck {
  /** CAP polygon text, or undefined when the polygon is absent or unusable */
  polygon?: string;
  circle?: string;
  problems: string[];
}

const inRange = (lat: number, lon: number) => Number.isFinite(lat) && Number.isFinite(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;

/**
 * CAP §3.3.3 area geometry, checked where the schema cannot: a polygon is four or more WGS 84
 * `lat,lon` pairs, the first equal to the last; coordinates in range; a circle's radius in km is
 * positive. An open ring is closed (the intent is plain); a polygon with a point out of range or
 * fewer than three distinct points is left out (the alert still reaches its geocodes) and reported.
 */
export function capGeometry(area: AlertEvent['area']): GeometryCheck {
  const problems: string[] = [];
  const out: GeometryCheck = { problems };
  if (area.polygon) {
    const ring = area.polygon.map(([lat, lon]) => [lat, lon] as const);
    const first = ring[0];
    const last = ring[ring.length - 1];
    if (first && last && (first[0] !== last[0] || first[1] !== last[1])) ring.push(first);
    const distinct = new Set(ring.map(([lat, lon]) => `${lat},${lon}`)).size;
    if (!ring.every(([lat, lon]) => inRange(lat, lon))) problems.push('polygon: a coordinate is out of range');
    else if (distinct < 3 || ring.length < 4) problems.push('polygon: fewer than 3 distinct points');
    else out.polygon = ring.map(([lat, lon]) => `${lat},${lon}`).join(' ');
  }
  if (area.circle) {
    const { lat, lon, radiusKm } = area.circle;
    if (!inRange(lat, lon)) problems.push('circle: centre out of range');
    else if (!(radiusKm > 0)) problems.push('circle: radius must be positive');
    else out.circle = `${lat},${lon} ${radiusKm}`;
  }
  return out;
}

/** CAP §3.2.2 responseType: only what our events say for certain. */
function responseTypes(ev: AlertEvent): string[] {
  if (ev.msgType === 'Cancel' && ev.status === 'resolved') return ['AllClear'];
  return [];
}

function info(ev: AlertEvent, lang: 'vi' | 'en', opts: CapOptions) {
  const geo = capGeometry(ev.area);
  return {
    language: lang === 'vi' ? 'vi-VN' : 'en-US',
    category: ev.category,
    event: ev.event[lang],
    ...(responseTypes(ev).length ? { responseType: responseTypes(ev) } : {}),
    urgency: ev.urgency,
    severity: ev.severity,
    certainty: ev.certainty,
    eventCode: [{ valueName: 'huewatch:key', value: ev.key }],
    effective: capTime(ev.sent),
    onset: capTime(ev.firstSent),
    ...(ev.expires ? { expires: capTime(ev.expires) } : {}),
    senderName: opts.senderName[lang],
    headline: ev.headline[lang],
    description: ev.description[lang],
    instruction: ev.instruction[lang],
    web: `${opts.baseUrl}/cap/${encodeURIComponent(ev.id)}.xml`,
    parameter: [
      { valueName: 'huewatch:level', value: String(ev.level) },
      { valueName: 'huewatch:status', value: ev.status },
      { valueName: 'huewatch:station', value: ev.source.station },
      { valueName: 'huewatch:metric', value: ev.source.metric },
      { valueName: 'huewatch:value', value: String(ev.source.value) },
      { valueName: 'huewatch:threshold', value: String(ev.source.threshold) },
      { valueName: 'huewatch:observedAt', value: capTime(ev.source.observedAt) },
      ...(ev.levelName ? [{ valueName: 'huewatch:levelName', value: ev.levelName[lang] }] : []),
      // a rain alert's windows: "30 mm; 2; Mưa to" = sum, the window's own class, its name
      ...(ev.windows ?? []).map((w) => ({ valueName: `huewatch:rain:${w.window}`, value: `${w.sum} mm; ${w.level}${w.name ? `; ${w.name[lang]}` : ''}` })),
    ],
    area: {
      areaDesc: ev.area.name[lang],
      ...(geo.polygon ? { polygon: geo.polygon } : {}),
      ...(geo.circle ? { circle: geo.circle } : {}),
      geocode: ev.area.codes.map((code) => ({ valueName: 'huewatch:area', value: code })),
    },
  };
}

/**
 * One event as a CAP message. `earlier` are the events of the same alert before this one (its
 * history): an Update or Cancel references every one of them (CAP §3.2.1 references).
 */
export function toCap(ev: AlertEvent, earlier: readonly AlertEvent[], opts: CapOptions = DEFAULT_CAP_OPTIONS): string {
  const before = earlier.filter((e) => e.id === ev.id && e.eventSeq < ev.eventSeq).sort((a, b) => a.eventSeq - b.eventSeq);
  const alert = {
    '@xmlns': CAP_NS,
    identifier: capIdentifier(ev),
    sender: opts.sender,
    sent: capTime(ev.sent),
    status: 'Actual',
    msgType: ev.msgType,
    source: ev.operator ? `IOC operator ${ev.operator.user}` : `HueWatch rules, station ${ev.source.station}`,
    // §3.2.2 scope: alerts for operators only are Restricted, with the restriction right after it
    ...(isOperatorsOnly(ev) ? { scope: 'Restricted', restriction: OPERATORS_RESTRICTION } : { scope: 'Public' }),
    ...(ev.operator?.reason ? { note: ev.operator.reason } : {}),
    ...(ev.msgType !== 'Alert' && before.length > 0 ? { references: capReferences(before, opts) } : {}),
    incidents: ev.key,
    info: [info(ev, 'vi', opts), info(ev, 'en', opts)],
  };
  return create({ version: '1.0', encoding: 'UTF-8' }, { alert }).end({ prettyPrint: true });
}

/**
 * Atom (RFC 4287) feed of the alerts in force, one entry per alert linking its latest CAP message:
 * the form alert aggregators (e.g. the WMO register of alerting authorities' feeds) poll. It is
 * public: alerts for operators only are left out, whatever the caller passes.
 */
export function capFeed(given: readonly AlertEvent[], opts: CapOptions = DEFAULT_CAP_OPTIONS, now: number = Date.now()): string {
  const alerts = given.filter((a) => !isOperatorsOnly(a));
  const updated = alerts.reduce((max, a) => Math.max(max, Date.parse(a.sent)), 0) || now;
  const feed = {
    '@xmlns': ATOM_NS,
    '@xml:lang': 'vi-VN',
    id: `${opts.baseUrl}/cap/feed.atom`,
    title: 'HueWatch — cảnh báo đang hiệu lực / alerts in force',
    updated: capTime(new Date(updated).toISOString()),
    author: { name: opts.senderName.vi },
    link: [
      { '@rel': 'self', '@type': 'application/atom+xml', '@href': `${opts.baseUrl}/cap/feed.atom` },
    ],
    entry: alerts.map((a) => ({
      id: capIdentifier(a),
      title: a.headline.vi,
      updated: capTime(a.sent),
      published: capTime(a.firstSent),
      link: { '@rel': 'alternate', '@type': 'application/cap+xml', '@href': `${opts.baseUrl}/cap/${encodeURIComponent(a.id)}.xml` },
      summary: a.description.vi,
      category: { '@term': a.severity },
    })),
  };
  return create({ version: '1.0', encoding: 'UTF-8' }, { feed }).end({ prettyPrint: true });
}
