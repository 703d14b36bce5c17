import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { topics } from '../contract/topics.ts';
import { encodeType1, toSentences } from '../firmware-sim/ais-encode.ts';
import { loadVesselRegistry } from '../ingest/vessels/registry.ts';
import type { Platform } from '../platform/main.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { collect, connectClient, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * Vessels through the whole platform: an AIS receiver and a VMS tracker registered through the
 * API, AIS lines and VMS JSON published over MQTT with their own credentials, the live map and a
 * track on the API (viewer), an outer-boundary alert on MQTT and in the alert list, a storm area
 * declared by an operator, and a restart that neither forgets nor repeats the vessel alerts.
 */
const cfg = (f: string) => fileURLToPath(new URL(`../config/${f}`, import.meta.url));
const zones = loadSeaZones(cfg('hue-sea-zones.geojson'));
const registry = loadVesselRegistry(cfg('vessels.yaml'), zones.ports.map((p) => p.id));
const CROSSER = registry.byId('TTH-90789-TS')!; // AIS, class A, 24 m
const VMS_VESSEL = 'TTH-90123-TS';
const RECEIVER = 'ais-rx-thuan-an';
const IUU_KEY = `vessel-iuu:${CROSSER.id}`;
const VMS_FIX = { lat: 16.95, lon: 108.3 };

let dir: { dir: string; cleanup(): Promise<void> };
let platform: Platform | undefined;
let resident: MqttClient | undefined;
const clients: MqttClient[] = [];
const secrets: Record<string, string> = {};

const api = (path: string, opts: { token?: string; method?: string; body?: unknown } = {}) =>
  fetch(platform!.httpUrl + path, {
    method: opts.method ?? 'GET',
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
const addDevice = (body: unknown) => api('/api/v1/devices', { method: 'POST', token: platform!.adminToken, body });

async function device(id: string): Promise<MqttClient> {
  const c = await connectClient(platform!.mqttUrl, { username: id, password: secrets[id]!, clientId: id });
  clients.push(c);
  return c;
}
const aisFix = (p: { lat: number; lon: number }, second: number) => toSentences(encodeType1({ mmsi: CROSSER.mmsi!, ...p, sog: 7, cog: 45, second })).join('\r\n');
const alertsOf = (messages: Array<{ topic: string; payload: string }>, key: string) =>
  messages.filter((m) => m.payload !== '').map((m) => JSON.parse(m.payload) as AlertEvent).filter((e) => e.key === key);

async function closeClients() {
  await Promise.allSettled(clients.splice(0).map((c) => c.endAsync()));
  await resident?.endAsync();
  resident = undefined;
}

beforeAll(async () => {
  dir = await tempDir();
  platform = await startTestPlatform(dir.dir);
}, 30_000);

afterAll(async () => {
  await closeClients();
  await platform?.stop();
  await dir?.cleanup();
}, 30_000);

describe('vessels through the whole platform', () => {
  it('registers an AIS receiver and a VMS tracker, and refuses what is not one', async () => {
    const rx = await addDevice({ deviceId: RECEIVER, receiver: true });
    expect(rx.status).toBe(201);
    const rxBody = (await rx.json()) as { station: string; secret: string };
    expect(rxBody.station).toBe('ais-receiver');
    secrets[RECEIVER] = rxBody.secret;

    const vms = await addDevice({ deviceId: VMS_VESSEL, vessel: VMS_VESSEL });
    expect(vms.status).toBe(201);
    const vmsBody = (await vms.json()) as { station: string; secret: string };
    expect(vmsBody.station).toBe(`vessel:${VMS_VESSEL}`);
    secrets[VMS_VESSEL] = vmsBody.secret;

    for (const [body, problem] of [
      [{ deviceId: 'TTH-00000-TS', vessel: true }, /no vessel "TTH-00000-TS"/],
      [{ deviceId: 'TTH-70111-TS', vessel: 'TTH-70111-TS' }, /carries no VMS tracker/],
      [{ deviceId: 'tracker-7', vessel: 'TTH-90456-TS' }, /registration number/],
      [{ deviceId: 'x-1', station: 'kim-long', receiver: true }, /exactly one/],
      [{ deviceId: 'x-1', receiver: false }, /exactly one/],
      [{ deviceId: 'x-1', station: 'nowhere' }, /no station "nowhere"/],
    ] as const) {
      const res = await addDevice(body);
      expect({ status: res.status, body: await res.json() }).toMatchObject({ status: 400, body: { code: 'HW_ERR_BAD_REQUEST', message: expect.stringMatching(problem) } });
    }
    const listed = (await (await api('/api/v1/devices', { token: platform!.adminToken })).json()) as { devices: Array<{ deviceId: string; station: string }> };
    expect(listed.devices).toEqual(expect.arrayContaining([
      expect.objectContaining({ deviceId: RECEIVER, station: 'ais-receiver' }),
      expect.objectContaining({ deviceId: VMS_VESSEL, station: `vessel:${VMS_VESSEL}` }),
    ]));
  });

  it('puts AIS and VMS vessels on the map and the track, raises the boundary alert, and refuses their telemetry', async () => {
    resident = await connectClient(platform!.mqttUrl, { clientId: 'resident-sea' });
    const seen = collect(resident);
    await resident.subscribeAsync('huewatch/v1/alerts/sea-tth/#', { qos: 1 });

    const rx = await device(RECEIVER);
    const track = [{ lon: 108.05, lat: 17.35 }, { lon: 108.05, lat: 17.36 }, { lon: 108.2, lat: 17.5 }]; // inside, inside, beyond
    for (const [i, p] of track.entries()) {
      await rx.publishAsync(topics.ais(RECEIVER), aisFix(p, i), { qos: 1 });
      await new Promise((r) => setTimeout(r, 10)); // each fix needs a later receive time
    }
    const tracker = await device(VMS_VESSEL);
    await tracker.publishAsync(topics.vms(VMS_VESSEL), JSON.stringify({ ts: Date.now() - 60_000, ...VMS_FIX, sog: 2.5, cog: 120 }), { qos: 1 });
    // a tracker is no station: the broker refuses its telemetry (and closes the connection), so it
    // never reaches ingest, let alone the store
    tracker.publish(topics.telemetry(VMS_VESSEL), JSON.stringify({ ts: Date.now(), m: { water_level: 1.2 } }), { qos: 0 });

    expect((await api('/api/v1/vessels')).status).toBe(401);
    const list = await waitFor(async () => {
      const body = (await (await api('/api/v1/vessels', { token: platform!.viewerToken })).json()) as { count: number; vessels: Array<{ vesselId: string; position: { lat: number; lon: number; source: string } }> };
      return body.count === 2 && body.vessels.find((v) => v.vesselId === CROSSER.id)?.position.lat === 17.5 && body;
    }, 5_000, 'both vessels on the map');
    expect(list.vessels).toEqual(expect.arrayContaining([
      expect.objectContaining({ vesselId: CROSSER.id, position: expect.objectContaining({ lat: 17.5, lon: 108.2, source: 'ais' }) }),
      expect.objectContaining({ vesselId: VMS_VESSEL, position: expect.objectContaining({ ...VMS_FIX, source: 'vms' }) }),
    ]));

    const trackRes = await api(`/api/v1/vessels/${CROSSER.id}/track`, { token: platform!.viewerToken });
    expect(trackRes.status).toBe(200);
    const feature = (await trackRes.json()) as { type: string; geometry: { type: string; coordinates: number[][] }; properties: { count: number } };
    expect(feature).toMatchObject({ type: 'Feature', geometry: { type: 'LineString' }, properties: { vesselId: CROSSER.id, count: 3 } });
    expect(feature.geometry.coordinates).toEqual(track.map((p) => [p.lon, p.lat]));

    const onMqtt = await waitFor(() => alertsOf(seen, IUU_KEY)[0], 5_000, 'the boundary alert on MQTT');
    expect(onMqtt).toMatchObject({ msgType: 'Alert', status: 'active', eventSeq: 1, severity: 'Severe', area: { codes: ['sea-tth'] }, source: { station: CROSSER.id, metric: 'boundary' } });
    const alerts = (await (await api('/api/v1/alerts', { token: platform!.viewerToken })).json()) as { alerts: AlertEvent[] };
    expect(alerts.alerts.filter((a) => a.key === IUU_KEY)).toEqual([expect.objectContaining({ id: onMqtt.id, status: 'active' })]);

    const metrics = await waitFor(async () => {
      const text = await (await api('/metrics')).text();
      return text.includes('huewatch_broker_refused_total{reason="publish_denied"} 1') && text;
    }, 5_000, 'the tracker telemetry refused');
    expect(metrics).not.toContain(`device="${VMS_VESSEL}"`); // ingest dropped nothing of it: it never got there
    const stations = (await (await api('/api/v1/devices', { token: platform!.adminToken })).json()) as { devices: unknown[] };
    expect(stations.devices).toHaveLength(2); // nothing registered itself on the way
  });

  it('lists the vessels inside a storm area an operator declares', async () => {
    const area = { id: 'storm-test', name: 'Bão số 5', validFrom: Date.now() - 60_000, validTo: Date.now() + 6 * 3_600_000, circle: { ...VMS_FIX, radiusKm: 20 } };
    expect((await api('/api/v1/storm-areas', { method: 'POST', token: platform!.viewerToken, body: area })).status).toBe(403);
    const res = await api('/api/v1/storm-areas', { method: 'POST', token: platform!.operatorToken, body: area });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ area: { id: 'storm-test' }, vessels: [VMS_VESSEL] });
    const storm = await waitFor(async () => {
      const { alerts } = (await (await api('/api/v1/alerts', { token: platform!.viewerToken })).json()) as { alerts: AlertEvent[] };
      return alerts.find((a) => a.key === 'storm-area:storm-test');
    }, 5_000, 'the storm alert');
    expect(storm).toMatchObject({ msgType: 'Alert', status: 'active', category: 'Met', levelName: { vi: 'Vùng nguy hiểm do bão', en: 'Storm danger area' } });
  });

  it('after a restart on the same data, a vessel still beyond the boundary raises nothing new', async () => {
    const before = (await (await api('/api/v1/alerts', { token: platform!.viewerToken })).json()) as { alerts: AlertEvent[] };
    const iuu = before.alerts.find((a) => a.key === IUU_KEY)!;
    await closeClients();
    await platform!.stop();
    platform = await startTestPlatform(dir.dir);

    resident = await connectClient(platform.mqttUrl, { clientId: 'resident-sea-2' });
    const seen = collect(resident);
    await resident.subscribeAsync('huewatch/v1/alerts/sea-tth/#', { qos: 1 });
    const rx = await device(RECEIVER);
    const tracker = await device(VMS_VESSEL);
    const further = { lon: 108.25, lat: 17.55 };
    await rx.publishAsync(topics.ais(RECEIVER), aisFix(further, 30), { qos: 1 });
    const vmsTs = Date.now();
    await tracker.publishAsync(topics.vms(VMS_VESSEL), JSON.stringify({ ts: vmsTs, lat: 16.951, lon: 108.301, sog: 2, cog: 100 }), { qos: 1 });

    await waitFor(async () => {
      const body = (await (await api('/api/v1/vessels', { token: platform!.viewerToken })).json()) as { vessels: Array<{ vesselId: string; position: { lat: number; ts: string } }> };
      return body.vessels.find((v) => v.vesselId === CROSSER.id)?.position.lat === further.lat &&
        body.vessels.find((v) => v.vesselId === VMS_VESSEL)?.position.ts === new Date(vmsTs).toISOString();
    }, 5_000, 'the new fixes on the map');
    // the fixes have reached the rules (positions are emitted as they are stored); give any event time to arrive
    await new Promise((r) => setTimeout(r, 500));

    const after = (await (await api('/api/v1/alerts', { token: platform!.viewerToken })).json()) as { alerts: AlertEvent[] };
    expect(after.alerts.filter((a) => a.key === IUU_KEY)).toEqual([expect.objectContaining({ id: iuu.id, eventSeq: 1, status: 'active' })]);
    expect(after.alerts.filter((a) => a.key === 'storm-area:storm-test')).toEqual([expect.objectContaining({ eventSeq: 1, status: 'active' })]);
    // the open alerts are published again as they were (same id, same eventSeq), never a new one
    const iuuAgain = alertsOf(seen, IUU_KEY);
    expect(iuuAgain.every((e) => e.id === iuu.id && e.eventSeq === 1)).toBe(true);
    expect(alertsOf(seen, 'storm-area:storm-test').every((e) => e.eventSeq === 1)).toBe(true);
    const history = (await (await api(`/api/v1/alerts/${iuu.id}`, { token: platform!.viewerToken })).json()) as { history: unknown[] };
    expect(history.history).toHaveLength(1);
  }, 30_000);
});
