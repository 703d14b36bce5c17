import { z } from 'zod';
import { ID_PATTERN, TOPIC_ROOT } from '../contract/topics.ts';

/**
 * Who may publish and subscribe where (DESIGN.md "Who may do what"). Pure: no I/O, no clock, so
 * the whole table is tested without a socket. The broker calls it from aedes' hooks (aedes-hooks.ts, admission.ts).
 */

export const SERVICE_NAMES = ['ingest', 'rules', 'api', 'nodered'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** What a device is for (lib/devices.ts): each publishes only on its own kind of topic. */
export const DEVICE_KINDS = ['station', 'vessel', 'ais-receiver', 'app'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const principalSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('device'), deviceId: z.string().regex(ID_PATTERN), kind: z.enum(DEVICE_KINDS) }),
  z.object({ role: z.literal('service'), name: z.enum(SERVICE_NAMES) }),
  z.object({ role: z.literal('resident') }),
]);
export type Principal = z.infer<typeof principalSchema>;

export type Action = 'publish' | 'subscribe';

interface Grant {
  /** a topic filter in our tree; `{id}` is replaced by the device's own id */
  pattern: string;
  /** publish grants only: may the message be retained */
  retain?: boolean;
}
interface Grants {
  publish: readonly Grant[];
  subscribe: readonly Grant[];
  /** may use `$share/{group}/…` forms of its subscribe grants (workers scale out that way) */
  shared?: boolean;
  /** may read `$SYS/#` (broker heartbeat, client events) */
  sys?: boolean;
}

const t = (rest: string) => `${TOPIC_ROOT}/${rest}`;

// A station's sensor reports telemetry, a VMS tracker its vessel's fixes, an AIS receiver the NMEA
// it hears: a river sensor must not be able to inject AIS positions, nor a tracker readings.
const deviceGrants = (own: string): Grants => ({
  publish: [
    { pattern: t(`${own}/{id}`) },
    { pattern: t('status/{id}'), retain: true }, // retained online state and last will
  ],
  subscribe: [{ pattern: t('cmd/{id}') }, { pattern: t('devices/{id}/errors') }],
});
const DEVICE: Record<DeviceKind, Grants> = {
  station: deviceGrants('telemetry'),
  vessel: deviceGrants('vms'),
  'ais-receiver': deviceGrants('ais'),
  // another app's only right: send residents' SOS calls and read the API's answers (api/sos/mqtt.ts)
  app: { publish: [{ pattern: t('sos/{id}') }], subscribe: [{ pattern: t('devices/{id}/sos') }] },
};

const SERVICES: Record<ServiceName, Grants> = {
  ingest: {
    publish: [{ pattern: t('obs/#') }, { pattern: t('devices/+/errors') }],
    subscribe: ['telemetry/+', 'status/+', 'vms/+', 'ais/+'].map((p) => ({ pattern: t(p) })),
    shared: true,
    sys: true,
  },
  rules: {
    // the only writer of alerts; retained while an alert is active (DESIGN.md wire contract)
    // … and, as the owner of the device registry, the one that tells the broker a device changed
    // (broker/auth-revocation.ts: its session is cut); nobody may subscribe to it
    // (operators-only alerts on ops/alerts/#, contract/topics.ts OPERATORS_AREA)
    publish: [{ pattern: t('alerts/#'), retain: true }, { pattern: t('ops/alerts/#'), retain: true }, { pattern: t('devices/+/changed') }],
    subscribe: [{ pattern: t('obs/#') }, { pattern: t('alerts/#') }, { pattern: t('ops/alerts/#') }],
    shared: true,
    sys: true,
  },
  api: {
    // cmd is retained desired config (wire contract): a device that reconnects gets it at once
    // …and SensorThings' Observations for anonymous readers (api/sta/mqtt.ts), never retained
    // …and the answers to apps' SOS calls (api/sos/mqtt.ts), never retained
    publish: [{ pattern: t('cmd/#'), retain: true }, { pattern: 'v1.1/#' }, { pattern: t('devices/+/sos') }],
    // ops/alerts/#: the API's alert feed hands operators' alerts to token holders (api/alert-feed.ts)
    // sos/+: apps' SOS calls (api/sos/mqtt.ts)
    subscribe: [{ pattern: t('alerts/#') }, { pattern: t('ops/alerts/#') }, { pattern: t('obs/#') }, { pattern: t('status/#') }, { pattern: t('sos/+') }],
    shared: true,
    sys: true,
  },
  // public alerts: its flows send them on to SMS and e-mail for residents; operators' alerts too,
  // which the flows send only to the operators who want them by e-mail/SMS (flows/README.md)
  nodered: { publish: [], subscribe: [{ pattern: t('alerts/#') }, { pattern: t('ops/alerts/#') }], shared: true, sys: true },
};

// never ops/alerts/#: operators' alerts are not for residents (contract/topics.ts OPERATORS_AREA)
const RESIDENT: Grants = {
  publish: [],
  // v1.1/#: SensorThings API's MQTT extension, read-only (api/sta/mqtt.ts)
  subscribe: [{ pattern: t('alerts/#') }, { pattern: t('obs/#') }, { pattern: 'v1.1/#' }],
};

function grantsOf(p: Principal): Grants {
  switch (p.role) {
    case 'device':
      return DEVICE[p.kind];
    case 'service':
      return SERVICES[p.name];
    case 'resident':
      return RESIDENT;
  }
}

/**
 * Is every topic matched by `filter` also matched by `pattern`? Level by level: `#` in the pattern
 * covers the rest, including the parent level itself [MQTT-4.7.1-2]; `+` in the pattern covers one
 * level, which may be `+` in the filter; a wildcard in the filter where the pattern has a literal
 * reaches topics the pattern does not.
 */
export function isSubsetFilter(filter: string, pattern: string): boolean {
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < p.length; i++) {
    const pl = p[i]!;
    if (pl === '#') return true;
    if (i >= f.length) return false;
    const fl = f[i]!;
    if (fl === '#') return false;
    if (pl === '+') continue;
    if (fl !== pl) return false;
  }
  return f.length === p.length;
}

/** A well-formed filter: `#` only as the whole last level, `+` only as a whole level [MQTT-4.7.1-2/3]. */
function validFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false; // [MQTT-4.7.3-1], [MQTT-4.7.3-2]
  const levels = filter.split('/');
  return levels.every((l, i) => {
    if (l === '#') return i === levels.length - 1;
    return l === '+' || (!l.includes('#') && !l.includes('+'));
  });
}

/** A topic name carries no wildcards [MQTT-3.3.2-2]. */
function validTopic(topic: string): boolean {
  return topic.length > 0 && !/[#+\u0000]/.test(topic);
}

function fill(pattern: string, p: Principal): string | undefined {
  if (!pattern.includes('{id}')) return pattern;
  // a device id is one safe topic level; anything else must not widen a pattern
  if (p.role !== 'device' || !ID_PATTERN.test(p.deviceId)) return undefined;
  return pattern.replace('{id}', p.deviceId);
}

/** `$share/{group}/{filter}` → `{filter}`; undefined when malformed. */
function unshare(filter: string): string | undefined {
  const m = /^\$share\/([^/#+]+)\/(.+)$/.exec(filter);
  return m ? m[2] : undefined;
}

export function authorize(principal: Principal, action: Action, topicOrFilter: string, opts: { retain?: boolean } = {}): boolean {
  const grants = grantsOf(principal);
  if (action === 'publish') {
    // `$SYS/` is the broker's own; nobody publishes there. `$`-topics in general are not ours.
    if (!validTopic(topicOrFilter) || topicOrFilter.startsWith('$')) return false;
    return grants.publish.some((g) => {
      const pattern = fill(g.pattern, principal);
      if (pattern === undefined || !isSubsetFilter(topicOrFilter, pattern)) return false;
      return !opts.retain || g.retain === true;
    });
  }

  let filter = topicOrFilter;
  if (filter.startsWith('$share/')) {
    const inner = unshare(filter);
    if (inner === undefined || !grants.shared) return false;
    filter = inner;
  }
  if (!validFilter(filter)) return false;
  if (filter.startsWith('$')) {
    return grants.sys === true && isSubsetFilter(filter, '$SYS/#');
  }
  return grants.subscribe.some((g) => {
    const pattern = fill(g.pattern, principal);
    return pattern !== undefined && isSubsetFilter(filter, pattern);
  });
}
