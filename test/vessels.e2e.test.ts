import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandler } from '../api/errors.ts';
import { vesselRoutes } from '../api/routes/vessels.ts';
import { startHarness, waitFor, type Harness } from '../broker/test-harness.ts';
import type { AlertEvent } from '../contract/alert.ts';
import { topics } from '../contract/topics.ts';
import { encodeType1, encodeType5, toSentences } from '../firmware-sim/ais-encode.ts';
import { loadVesselRegistry } from '../ingest/vessels/registry.ts';
import { createVesselIngest, type VesselIngest } from '../ingest/vessels/service.ts';
import { silentLogger } from '../lib/log.ts';
import { createVesselRules } from '../rules/vessels/evaluator.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';

/**
 * End to end: AIS lines and VMS JSON published by devices to a real aedes broker (ephemeral port,
 * real ACL) → vessel ingest (its own MQTT.js client, ingest service account) → the live map read
 * through the routes plugin (inject), and the boundary alert made by the vessel rules.
 */
const cfg = (f: string) => fileURLToPath(new URL(`../config/${f}`, import.meta.url));
const zones = loadSeaZones(cfg('hue-sea-zones.geojson'));
const registry = loadVesselRegistry(cfg('vessels.yaml'), zones.ports.map((p) => p.id));
const CROSSER = registry.byId('TTH-90789-TS')!;
const VMS_VESSEL = 'TTH-90123-TS';
const RECEIVER = 'ais-rx-thuan-an';

let h: Harness;
let ingest: VesselIngest;
const alerts: AlertEvent[] = [];
const app = Fastify();

beforeAll(async () => {
  h = await startHarness([RECEIVER, VMS_VESSEL]);
  // what platform/devices.ts records for them: the broker lets each publish only its own kind
  h.devices.get(RECEIVER)!.station = 'ais-receiver';
  h.devices.get(VMS_VESSEL)!.station = `vessel:${VMS_VESSEL}`;
  const mqtt = await h.service('ingest', 'vessels');
  ingest = createVesselIngest({ mqtt, registry, log: silentLogger(), metrics: new Registry() });
  const rules = createVesselRules({ zones, registry, clock: Date });
  ingest.events.on('position', (p) => alerts.push(...rules.onPosition(p)));
  await ingest.start();
  installErrorHandler(app);
  await app.register(async (scope) => vesselRoutes(scope, { vessels: ingest.query }));
}, 20_000);

afterAll(async () => {
  await ingest?.stop();
  await app.close();
  await h?.close();
});

describe('vessels end to end over a real broker', () => {
  it('turns AIS lines into a vessel on the map, and a crossing of the outer boundary into an IUU alert', async () => {
    const rx = await h.device(RECEIVER);
    const track = [
      { lon: 108.05, lat: 17.35 }, // offshore, inside
      { lon: 108.12, lat: 17.431 }, // on the boundary (a vertex): touching is not crossing
      { lon: 108.05, lat: 17.36 },
      { lon: 108.2, lat: 17.5 }, // beyond
    ];
    const mmsi = CROSSER.mmsi!;
    // a static report in two fragments, then garbage and a bad checksum that must be dropped
    const five = toSentences(encodeType5({ mmsi, name: 'PHU THUAN 09', callsign: 'XVPT9', lengthM: 24 }), { seqId: 4 });
    await rx.publishAsync(topics.ais(RECEIVER), [five[0], 'junk line', five[1]!.replace(/\*..$/, '*00')].join('\r\n'), { qos: 1 });
    await rx.publishAsync(topics.ais(RECEIVER), five.join('\n'), { qos: 1 });
    for (const [i, p] of track.entries()) {
      // separate messages, a little apart: each fix needs a later receive time than the one before
      await rx.publishAsync(topics.ais(RECEIVER), toSentences(encodeType1({ mmsi, ...p, sog: 7, cog: 45, second: i })).join('\r\n'), { qos: 1 });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await waitFor(() => alerts.some((a) => a.key === `vessel-iuu:${CROSSER.id}`), 5_000)).toBe(true);
    const iuu = alerts.filter((a) => a.key.startsWith('vessel-iuu:'));
    expect(iuu).toHaveLength(1); // the touch did not fire
    expect(iuu[0]).toMatchObject({ msgType: 'Alert', status: 'active', severity: 'Severe', area: { codes: ['sea-tth'] }, source: { station: CROSSER.id, metric: 'boundary' } });
    expect(ingest.decoder.counts.dropped).toMatchObject({ garbage: 1, checksum: 1, fragment_orphan: 0 });

    const list = await app.inject({ method: 'GET', url: '/api/v1/vessels?bbox=107.5,16.0,108.8,17.8' });
    expect(list.statusCode).toBe(200);
    expect(list.json().vessels).toEqual([
      expect.objectContaining({ vesselId: CROSSER.id, registered: true, name: CROSSER.name, lengthM: 24, callsign: 'XVPT9', position: expect.objectContaining({ lat: 17.5, lon: 108.2, sog: 7, source: 'ais' }) }),
    ]);
    expect((await app.inject({ url: '/api/v1/vessels?bbox=100,10,101,11' })).json().count).toBe(0);
    const track2 = (await app.inject({ url: `/api/v1/vessels/${CROSSER.id}/track` })).json();
    expect(track2).toMatchObject({ type: 'Feature', geometry: { type: 'LineString' }, properties: { vesselId: CROSSER.id, count: 4 } });
    expect(track2.geometry.coordinates[3]).toEqual([108.2, 17.5]);
  });

  it('takes VMS JSON from the vessel itself, and refuses a bad one', async () => {
    const vessel = await h.device(VMS_VESSEL);
    const ts = Date.now() - 60_000;
    await vessel.publishAsync(topics.vms(VMS_VESSEL), JSON.stringify({ ts, lat: 16.95, lon: 108.3, sog: 2.5, cog: 120 }), { qos: 1 });
    await vessel.publishAsync(topics.vms(VMS_VESSEL), JSON.stringify({ ts, lat: 95, lon: 108.3, sog: 2.5, cog: 120 }), { qos: 1 });
    expect(await waitFor(() => !!ingest.query.get(VMS_VESSEL)?.position, 5_000)).toBe(true);
    const one = await app.inject({ url: `/api/v1/vessels/${VMS_VESSEL}` });
    expect(one.json()).toMatchObject({ vesselId: VMS_VESSEL, homePort: 'thuan-an', position: { lat: 16.95, lon: 108.3, source: 'vms', ts: new Date(ts).toISOString() } });
    expect((await app.inject({ url: '/api/v1/vessels/TTH-00000-TS' })).json()).toMatchObject({ code: 'HW_ERR_NOT_FOUND' });
    expect((await app.inject({ url: '/api/v1/vessels?bbox=1,2,3' })).json()).toMatchObject({ code: 'HW_ERR_BAD_REQUEST' });
    const single = (await app.inject({ url: `/api/v1/vessels/${VMS_VESSEL}/track` })).json();
    expect(single).toMatchObject({ geometry: null, properties: { count: 1 } });
  });
});
