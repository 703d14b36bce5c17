import { describe, expect, it } from 'vitest';
import { authorize, isSubsetFilter, principalSchema, type Principal } from './acl.ts';

const R = 'huewatch/v1';
const dev: Principal = { role: 'device', deviceId: 'kim-long-01', kind: 'station' };
const tracker: Principal = { role: 'device', deviceId: 'TTH-90789-TS', kind: 'vessel' };
const receiver: Principal = { role: 'device', deviceId: 'ais-rx-01', kind: 'ais-receiver' };
const other = 'huong-river-02';
const ingest: Principal = { role: 'service', name: 'ingest' };
const rules: Principal = { role: 'service', name: 'rules' };
const api: Principal = { role: 'service', name: 'api' };
const nodered: Principal = { role: 'service', name: 'nodered' };
const resident: Principal = { role: 'resident' };
const everyone = [dev, ingest, rules, api, nodered, resident];
const name = (p: Principal) => (p.role === 'device' ? 'device' : p.role === 'service' ? `svc-${p.name}` : 'resident');

type Row = [Principal, string, boolean, boolean?];

describe('isSubsetFilter', () => {
  it.each<[string, string, boolean]>([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/b/c', 'a/#', true],
    ['a', 'a/#', true], // `#` also matches the parent level [MQTT-4.7.1-2]
    ['a/#', 'a/#', true],
    ['a/+/c', 'a/#', true],
    ['#', 'a/#', false],
    ['+/b', 'a/#', false],
    ['a/b', 'a/+', true],
    ['a/+', 'a/+', true],
    ['a/#', 'a/+', false],
    ['a/b/c', 'a/+', false],
    ['a', 'a/+', false],
    ['a/+', 'a/b', false],
    ['a/b/', 'a/b', false],
    ['a//c', 'a/+/c', true],
  ])('says %s within %s is %s', (filter, pattern, expected) => {
    expect(isSubsetFilter(filter, pattern)).toBe(expected);
  });
});

describe('authorize publish', () => {
  const rows: Row[] = [
    // a device publishes only its own topics, and only those of its kind: a river sensor cannot
    // inject AIS positions, a VMS tracker cannot report river levels
    [dev, `${R}/telemetry/kim-long-01`, true],
    [dev, `${R}/status/kim-long-01`, true],
    [dev, `${R}/vms/kim-long-01`, false],
    [dev, `${R}/ais/kim-long-01`, false],
    [tracker, `${R}/vms/TTH-90789-TS`, true],
    [tracker, `${R}/status/TTH-90789-TS`, true],
    [tracker, `${R}/telemetry/TTH-90789-TS`, false],
    [tracker, `${R}/ais/TTH-90789-TS`, false],
    [tracker, `${R}/vms/TTH-90123-TS`, false],
    [receiver, `${R}/ais/ais-rx-01`, true],
    [receiver, `${R}/status/ais-rx-01`, true],
    [receiver, `${R}/telemetry/ais-rx-01`, false],
    [receiver, `${R}/vms/ais-rx-01`, false],
    [dev, `${R}/telemetry/${other}`, false],
    [dev, `${R}/status/${other}`, false],
    [dev, `${R}/telemetry/kim-long-01/extra`, false],
    [dev, `${R}/telemetry`, false],
    [dev, `${R}/cmd/kim-long-01`, false],
    [dev, `${R}/devices/kim-long-01/errors`, false], // written by the platform, not by the device
    [ingest, `${R}/devices/kim-long-01/errors`, true],
    [resident, `${R}/devices/kim-long-01/errors`, false],
    [dev, `${R}/obs/kim-long-01`, false],
    [dev, `${R}/alerts/kim-long/flood_kim-long`, false],
    [dev, `$SYS/broker/x`, false],
    [dev, `${R}/telemetry/+`, false],
    [dev, `${R}/telemetry/#`, false],
    [dev, `other/root`, false],
    // only status may be retained by a device
    [dev, `${R}/status/kim-long-01`, true, true],
    [dev, `${R}/telemetry/kim-long-01`, false, true],
    [tracker, `${R}/vms/TTH-90789-TS`, false, true],
    [receiver, `${R}/ais/ais-rx-01`, false, true],
    // services
    [ingest, `${R}/obs/kim-long`, true],
    [ingest, `${R}/obs/kim-long`, false, true],
    [ingest, `${R}/alerts/kim-long/x`, false],
    [ingest, `${R}/telemetry/kim-long-01`, false],
    [rules, `${R}/alerts/kim-long/flood_kim-long`, true],
    [rules, `${R}/alerts/kim-long/flood_kim-long`, true, true],
    [rules, `${R}/obs/kim-long`, false],
    [api, `${R}/cmd/kim-long-01`, true],
    [api, `${R}/cmd/kim-long-01`, true, true],
    [api, `${R}/alerts/kim-long/manual`, false],
    [nodered, `${R}/alerts/kim-long/x`, false],
    [nodered, `${R}/obs/x`, false],
    [rules, `$SYS/x`, false],
    // operators' alerts (device faults, dam operation) have a tree of their own, written by rules only
    [rules, `${R}/ops/alerts/sensor-fault_kim-long`, true, true],
    // the registry's owner tells the broker a device changed (broker/auth-revocation.ts); nobody else may
    [rules, `${R}/devices/kim-long-01/changed`, true],
    [rules, `${R}/devices/kim-long-01/changed`, false, true], // never retained: a kept "changed" would cut every later session
    [api, `${R}/devices/kim-long-01/changed`, false],
    [ingest, `${R}/devices/kim-long-01/changed`, false],
    [dev, `${R}/devices/kim-long-01/changed`, false],
    [resident, `${R}/devices/kim-long-01/changed`, false],
    [ingest, `${R}/ops/alerts/x`, false],
    [api, `${R}/ops/alerts/x`, false],
    [nodered, `${R}/ops/alerts/x`, false],
    [dev, `${R}/ops/alerts/x`, false],
    [resident, `${R}/ops/alerts/x`, false],
    // residents publish nothing
    [resident, `${R}/alerts/kim-long/x`, false],
    [resident, `${R}/obs/x`, false],
    [resident, `${R}/telemetry/x`, false],
    [resident, `anything`, false],
  ];
  it.each(rows)('lets %j publish to %s: %s (retain %s)', (p, topic, expected, retain) => {
    expect(authorize(p, 'publish', topic, { retain })).toBe(expected);
  });

  it('lets nobody but the rules service publish an alert', () => {
    for (const p of everyone) {
      expect(authorize(p, 'publish', `${R}/alerts/kim-long/flood_kim-long`), name(p)).toBe(p === rules);
    }
  });

  it('refuses empty topics and topics with NUL or wildcards for everyone', () => {
    for (const p of everyone) {
      for (const topic of ['', `${R}/obs/a\u0000b`, `${R}/alerts/+/x`, `${R}/obs/#`]) {
        expect(authorize(p, 'publish', topic), `${name(p)} ${topic}`).toBe(false);
      }
    }
  });
});

describe('authorize subscribe', () => {
  const rows: Row[] = [
    [dev, `${R}/cmd/kim-long-01`, true],
    [dev, `${R}/cmd/${other}`, false],
    // why its messages were dropped: its own errors topic only
    [dev, `${R}/devices/kim-long-01/errors`, true],
    [dev, `${R}/devices/${other}/errors`, false],
    [dev, `${R}/devices/+/errors`, false],
    [resident, `${R}/devices/kim-long-01/errors`, false],
    [dev, `${R}/cmd/+`, false],
    [dev, `${R}/cmd/#`, false],
    [dev, `${R}/#`, false],
    [dev, `#`, false],
    [dev, `${R}/telemetry/kim-long-01`, false],
    [dev, `${R}/alerts/#`, false],
    [dev, `$share/g/${R}/cmd/kim-long-01`, false],
    [dev, `$SYS/#`, false],
    [ingest, `${R}/telemetry/+`, true],
    [ingest, `${R}/status/+`, true],
    [ingest, `${R}/vms/+`, true],
    [ingest, `${R}/ais/+`, true],
    [ingest, `${R}/telemetry/kim-long-01`, true],
    [ingest, `$share/ingest/${R}/telemetry/+`, true],
    [ingest, `$share/ingest/${R}/ais/+`, true],
    [ingest, `$share//${R}/telemetry/+`, false],
    [ingest, `$share/ingest/${R}/#`, false],
    [ingest, `${R}/telemetry/#`, false], // `#` reaches deeper levels than `+`
    [ingest, `${R}/+/+`, false],
    [ingest, `${R}/obs/#`, false],
    [ingest, `$SYS/#`, true],
    [ingest, `$SYS/+/heartbeat`, true],
    [rules, `${R}/obs/#`, true],
    [rules, `${R}/devices/+/changed`, false], // said, not listened to: the broker acts on it itself
    [resident, `${R}/devices/+/changed`, false],
    [dev, `${R}/devices/kim-long-01/changed`, false],
    [rules, `${R}/obs/+`, true],
    [rules, `${R}/alerts/#`, true],
    [rules, `$share/rules/${R}/obs/#`, true],
    [rules, `${R}/telemetry/+`, false],
    [api, `${R}/alerts/#`, true],
    [api, `${R}/obs/#`, true],
    [api, `${R}/status/#`, true],
    [api, `${R}/status/+`, true],
    [api, `${R}/cmd/#`, false],
    [api, `${R}/telemetry/+`, false],
    [nodered, `${R}/alerts/#`, true],
    [nodered, `${R}/alerts/kim-long/#`, true],
    [nodered, `${R}/obs/#`, false],
    [resident, `${R}/alerts/#`, true],
    [resident, `${R}/alerts/kim-long/#`, true],
    [resident, `${R}/alerts/+/#`, true],
    [resident, `${R}/alerts/kim-long/flood_kim-long`, true],
    [resident, `${R}/alerts`, true],
    [resident, `${R}/obs/#`, true],
    [resident, `${R}/obs/+`, true],
    [resident, `${R}/telemetry/#`, false],
    [resident, `${R}/status/+`, false],
    [resident, `${R}/cmd/#`, false],
    [resident, `${R}/#`, false],
    [resident, `${R}/+/kim-long`, false],
    [resident, `#`, false],
    [resident, `+/v1/alerts/#`, false],
    [resident, `$SYS/#`, false],
    [resident, `$share/g/${R}/alerts/#`, false],
    // operators' alerts: the services that hand them on read them; residents and devices never do
    [rules, `${R}/ops/alerts/#`, true],
    [api, `${R}/ops/alerts/#`, true],
    [api, `$share/api/${R}/ops/alerts/#`, true],
    // its flows send operators' alerts only to operators who want them by e-mail/SMS (flows/README.md)
    [nodered, `${R}/ops/alerts/#`, true],
    [nodered, `${R}/ops/#`, false],
    [ingest, `${R}/ops/alerts/#`, false],
    [resident, `${R}/ops/alerts/#`, false],
    [resident, `${R}/ops/alerts/sensor-fault_kim-long`, false],
    [resident, `${R}/ops/#`, false],
    [resident, `${R}/+/alerts/#`, false],
    [dev, `${R}/ops/alerts/#`, false],
    [tracker, `${R}/ops/alerts/#`, false],
    [receiver, `${R}/ops/alerts/#`, false],
  ];
  it.each(rows)('lets %j subscribe to %s: %s', (p, filter, expected) => {
    expect(authorize(p, 'subscribe', filter)).toBe(expected);
  });

  it('refuses malformed filters for everyone', () => {
    for (const p of everyone) {
      for (const f of ['', `${R}/alerts/#/x`, `${R}/alerts/kim#`, `${R}/alerts/k+`, `${R}/alerts/\u0000`]) {
        expect(authorize(p, 'subscribe', f), `${name(p)} ${f}`).toBe(false);
      }
    }
  });

  it('never widens a device pattern with an id that is not one safe topic level', () => {
    for (const deviceId of ['+', '#', 'a/b', '']) {
      const p = { role: 'device', deviceId, kind: 'station' } as Principal;
      expect(principalSchema.safeParse(p).success).toBe(false);
      expect(authorize(p, 'subscribe', `${R}/cmd/${deviceId}`)).toBe(false);
      expect(authorize(p, 'publish', `${R}/telemetry/${deviceId}`)).toBe(false);
    }
  });
});

describe("residents' SOS over MQTT (#15.3)", () => {
  const app: Principal = { role: 'device', deviceId: 'partner-app-01', kind: 'app' };
  const otherApp = 'partner-app-02';
  const sos = (id: string) => `${R}/sos/${id}`;
  const answer = (id: string) => `${R}/devices/${id}/sos`;

  it('lets an app publish only its own SOS topic, never retained, and nothing else', () => {
    expect(authorize(app, 'publish', sos('partner-app-01'))).toBe(true);
    expect(authorize(app, 'publish', sos('partner-app-01'), { retain: true })).toBe(false);
    for (const topic of [sos(otherApp), `${sos('partner-app-01')}/x`, answer('partner-app-01'), `${R}/telemetry/partner-app-01`, `${R}/status/partner-app-01`, `${R}/vms/partner-app-01`, `${R}/ais/partner-app-01`, `${R}/alerts/kim-long/x`]) {
      expect(authorize(app, 'publish', topic), topic).toBe(false);
    }
  });

  it('lets an app read only its own answers', () => {
    expect(authorize(app, 'subscribe', answer('partner-app-01'))).toBe(true);
    for (const filter of [answer(otherApp), `${R}/devices/+/sos`, `${R}/devices/#`, sos('partner-app-01'), `${R}/sos/+`, `${R}/cmd/partner-app-01`, `${R}/devices/partner-app-01/errors`, `${R}/alerts/#`, `$share/g/${answer('partner-app-01')}`]) {
      expect(authorize(app, 'subscribe', filter), filter).toBe(false);
    }
  });

  it('lets the API read every app\'s SOS and answer each, never retained', () => {
    expect(authorize(api, 'subscribe', `${R}/sos/+`)).toBe(true);
    expect(authorize(api, 'subscribe', sos('partner-app-01'))).toBe(true);
    expect(authorize(api, 'subscribe', `${R}/sos/#`)).toBe(false);
    expect(authorize(api, 'publish', answer('partner-app-01'))).toBe(true);
    expect(authorize(api, 'publish', answer('partner-app-01'), { retain: true })).toBe(false);
    expect(authorize(api, 'publish', sos('partner-app-01'))).toBe(false);
  });

  it('lets no resident, station, tracker, receiver or other service send an SOS or read the answers', () => {
    for (const p of [resident, dev, tracker, receiver, ingest, rules, nodered]) {
      const id = p.role === 'device' ? p.deviceId : 'partner-app-01';
      expect(authorize(p, 'publish', sos(id)), `${name(p)} publish sos`).toBe(false);
      expect(authorize(p, 'publish', answer(id)), `${name(p)} publish answer`).toBe(false);
      for (const filter of [sos(id), `${R}/sos/+`, answer(id), `${R}/devices/+/sos`]) {
        expect(authorize(p, 'subscribe', filter), `${name(p)} subscribe ${filter}`).toBe(false);
      }
    }
  });

  it('knows the app kind as a principal', () => {
    expect(principalSchema.safeParse(app).success).toBe(true);
  });
});
