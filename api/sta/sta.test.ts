import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../../lib/stations.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../../store/duckdb.ts';
import type { StoredReading } from '../../store/types.ts';
import { installErrorHandler } from '../errors.ts';
import { staRoutes } from './routes.ts';

/**
 * SensorThings API 1.1 over the real station catalogue and a real (in-memory) DuckDB store, through
 * fastify's inject: the requests of OGC 18-088's examples, adapted to HueWatch's ids.
 */
const NOW = Date.parse('2026-11-01T12:00:00Z');
const HOUR = 3_600_000;
const stations = loadStations(DEFAULT_STATIONS_FILE);

describe('SensorThings API 1.1 (/sta/v1.1)', () => {
  let store: EmbeddedStore;
  let app: FastifyInstance;
  const get = async (path: string) => {
    const res = await app.inject({ url: `/sta/v1.1${path}`, headers: { host: 'sta.test:8080' } });
    return { status: res.statusCode, cors: res.headers['access-control-allow-origin'], body: res.body ? (String(res.headers['content-type'] ?? '').includes('json') ? res.json() : res.body) : undefined };
  };

  beforeAll(async () => {
    store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    // Kim Long: 48 hourly levels rising 1.00 → 3.35 m; Phú Ốc: 3 readings; Tả Trạch inflow: 1 out-of-range value
    const rows: StoredReading[] = [];
    for (let h = 0; h < 48; h++) rows.push({ station: 'kim-long', device: 'kl-01', metric: 'water_level', ts: NOW - (47 - h) * HOUR, value: 1 + h * 0.05, quality: 'ok' });
    for (let h = 0; h < 3; h++) rows.push({ station: 'phu-oc', device: 'po-01', metric: 'water_level', ts: NOW - h * HOUR, value: 2 + h, quality: 'ok' });
    rows.push({ station: 'ta-trach', device: 'tt-01', metric: 'inflow', ts: NOW - 30 * 86_400_000, value: 60_000, quality: 'out_of_range' });
    // Phong Bình: 6,000 readings a minute apart (windows narrower than an hour, deep pages)
    for (let i = 0; i < 6000; i++) rows.push({ station: 'phong-binh', device: 'pb-01', metric: 'water_level', ts: NOW - i * 60_000, value: i / 1000, quality: 'ok' });
    await store.writeReadings(rows);
    app = Fastify();
    installErrorHandler(app);
    await app.register(async (scope) => staRoutes(scope, { stations, store, clock: { now: () => NOW }, mqtt: { port: 1883, wsPort: 9001 } }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
  });

  it('serves the root document: every entity set and the conformance classes (18-088 §9.2.1)', async () => {
    const { status, body } = await get('/');
    expect(status).toBe(200);
    expect(body.value.map((v: { name: string }) => v.name)).toEqual(['Things', 'Locations', 'HistoricalLocations', 'Sensors', 'ObservedProperties', 'Datastreams', 'Observations', 'FeaturesOfInterest']);
    expect(body.value[0].url).toBe('http://sta.test:8080/sta/v1.1/Things');
    expect(body.serverSettings.conformance).toContain('http://www.opengis.net/spec/iot_sensing/1.1/req/request-data');
    expect(body.serverSettings.conformance).not.toContain('http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete');
    expect(body.serverSettings['http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates'].endpoints).toEqual(['mqtt://sta.test:1883', 'ws://sta.test:9001/mqtt']);
    expect((await get('')).status).toBe(200);
    // open data: a partner's web page may read it (CORS)
    expect((await get('/Things')).cors).toBe('*');
  });

  it('serves a Thing with its id, self link and navigation links (18-088 §9.2.3 example)', async () => {
    const { status, body } = await get("/Things('kim-long')");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      '@iot.id': 'kim-long',
      '@iot.selfLink': "http://sta.test:8080/sta/v1.1/Things('kim-long')",
      name: 'Kim Long',
      'Locations@iot.navigationLink': "http://sta.test:8080/sta/v1.1/Things('kim-long')/Locations",
      'Datastreams@iot.navigationLink': "http://sta.test:8080/sta/v1.1/Things('kim-long')/Datastreams",
      'HistoricalLocations@iot.navigationLink': "http://sta.test:8080/sta/v1.1/Things('kim-long')/HistoricalLocations",
    });
    expect(body.properties).toMatchObject({ kind: 'river', alarmLevels_m: { 1: 1, 2: 2, 3: 3.5 } });
  });

  it('gives a Datastream its unit from the metric catalogue and links it to Thing, Sensor and ObservedProperty', async () => {
    const { body } = await get("/Datastreams('kim-long:water_level')?$expand=Thing,Sensor,ObservedProperty");
    expect(body.unitOfMeasurement).toEqual({ name: 'metre', symbol: 'm', definition: 'http://unitsofmeasure.org/ucum.html#m' });
    expect(body.observationType).toBe('http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement');
    expect(body.Thing['@iot.id']).toBe('kim-long');
    expect(body.Sensor['@iot.id']).toBe('water_level');
    expect(body.ObservedProperty).toMatchObject({ '@iot.id': 'water_level', name: 'water level' });
    const air = (await get("/Things('" + stations.find((s) => s.kind === 'air')!.id + "')/Datastreams?$select=unitOfMeasurement")).body;
    expect(air.value.map((d: { unitOfMeasurement: { symbol: string } }) => d.unitOfMeasurement.symbol)).toContain('ug/m3');
  });

  it('addresses navigation, a property and its $value (18-088 §9.2.4–9.2.6)', async () => {
    expect((await get("/Datastreams('kim-long:water_level')/Thing")).body['@iot.id']).toBe('kim-long');
    expect((await get("/Things('kim-long')/Locations")).body.value[0].location).toEqual({ type: 'Point', coordinates: [107.556, 16.462] });
    expect((await get("/Things('kim-long')/name")).body).toEqual({ name: 'Kim Long' });
    expect((await get("/Things('kim-long')/name/$value")).body).toBe('Kim Long');
    expect((await get("/Things('kim-long')/Datastreams/$ref")).body.value).toEqual([{ '@iot.selfLink': "http://sta.test:8080/sta/v1.1/Datastreams('kim-long:water_level')" }]);
  });

  it('pages Observations from the store, newest first, with @iot.count and @iot.nextLink', async () => {
    const { body } = await get("/Datastreams('kim-long:water_level')/Observations?$top=5&$count=true");
    expect(body['@iot.count']).toBe(48);
    expect(body.value).toHaveLength(5);
    expect(body.value[0]).toMatchObject({ '@iot.id': `kim-long:water_level:${NOW}`, phenomenonTime: new Date(NOW).toISOString(), result: 3.35, resultQuality: 'ok' });
    expect(body['@iot.nextLink']).toBe("http://sta.test:8080/sta/v1.1/Datastreams('kim-long:water_level')/Observations?$top=5&$count=true&$skip=5");
    const next = await get(body['@iot.nextLink'].replace('http://sta.test:8080/sta/v1.1', ''));
    expect(next.body.value[0].phenomenonTime).toBe(new Date(NOW - 5 * HOUR).toISOString());
    // the last page has no nextLink
    const last = await get("/Datastreams('kim-long:water_level')/Observations?$top=5&$skip=45");
    expect(last.body.value).toHaveLength(3);
    expect(last.body['@iot.nextLink']).toBeUndefined();
    // an Observation by its id, and its FeatureOfInterest
    const one = await get(`/Observations('kim-long:water_level:${NOW - HOUR}')?$expand=FeatureOfInterest($select=name)`);
    expect(one.body.result).toBeCloseTo(3.3, 9);
    expect(one.body.FeatureOfInterest).toEqual({ name: 'Kim Long' });
  });

  it('pages deep into a dense Datastream, both ways, and counts it', async () => {
    const ds = "/Datastreams('phong-binh:water_level')/Observations";
    const deep = await get(`${ds}?$top=3&$skip=4321&$select=result&$count=true`);
    expect(deep.status).toBe(200);
    expect(deep.body['@iot.count']).toBe(6000);
    expect(deep.body.value).toEqual([{ result: 4.321 }, { result: 4.322 }, { result: 4.323 }]);
    const oldest = await get(`${ds}?$top=2&$skip=5000&$orderby=phenomenonTime asc&$select=result`);
    expect(oldest.body.value).toEqual([{ result: 0.999 }, { result: 0.998 }]);
    const filtered = await get(`${ds}?$filter=result ge 1 and result lt 1.5&$count=true&$top=1&$select=result`);
    expect(filtered.body).toMatchObject({ '@iot.count': 500, value: [{ result: 1 }] }); // newest first
  });

  it('reads Observations oldest first, bounded in time by $filter, and across Datastreams', async () => {
    const since = new Date(NOW - 2 * HOUR).toISOString();
    const { body } = await get(`/Observations?$filter=phenomenonTime ge ${since} and result gt 2&$orderby=phenomenonTime asc&$count=true`);
    // Kim Long's last 3 (3.25, 3.30, 3.35) and Phú Ốc's 3 (2 is not > 2, so 2)
    expect(body['@iot.count']).toBe(5);
    const times = body.value.map((o: { phenomenonTime: string }) => o.phenomenonTime);
    expect(times).toEqual([...times].sort());
    const old = await get("/Datastreams('ta-trach:inflow')/Observations");
    expect(old.body.value).toEqual([expect.objectContaining({ result: 60000, resultQuality: 'out_of_range' })]);
    const viaDs = await get("/Observations?$filter=Datastream/id eq 'phu-oc:water_level'&$select=result");
    expect(viaDs.body.value).toEqual([{ result: 2 }, { result: 3 }, { result: 4 }]);
  });

  it('expands nested with their own options (18-088 §9.3.2.1 example)', async () => {
    const { status, body } = await get("/Things('kim-long')?$select=name&$expand=Datastreams($select=name;$expand=Observations($top=1;$orderby=phenomenonTime desc;$select=result,phenomenonTime))");
    expect(status).toBe(200);
    expect(body).toEqual({
      name: 'Kim Long',
      Datastreams: [{ name: 'Kim Long water level', 'Observations@iot.nextLink': expect.stringContaining("Datastreams('kim-long:water_level')/Observations?"), Observations: [{ result: 3.35, phenomenonTime: new Date(NOW).toISOString() }] }],
    });
    const path = await get("/Things?$filter=id eq 'kim-long'&$expand=Datastreams/ObservedProperty");
    expect(path.body.value[0].Datastreams[0].ObservedProperty['@iot.id']).toBe('water_level');
  });

  it('filters with comparison, logic, arithmetic, string and time functions', async () => {
    const names = async (q: string) => (await get(`/Things?$select=id&$filter=${encodeURIComponent(q)}`)).body.value.map((t: { '@iot.id': string }) => t['@iot.id']);
    expect(await names("name eq 'Kim Long'")).toEqual(['kim-long']);
    expect(await names("startswith(name, 'Kim') and not (properties/kind ne 'river')")).toEqual(['kim-long']);
    expect(await names("substringof('Long', name) or endswith(id, 'oc')")).toEqual(expect.arrayContaining(['kim-long', 'phu-oc']));
    expect(await names("tolower(name) eq 'kim long' and length(trim(concat(name, '  '))) eq 8")).toEqual(['kim-long']);
    const obs = async (q: string) => (await get(`/Datastreams('kim-long:water_level')/Observations?$select=result&$filter=${encodeURIComponent(q)}`)).body.value.length;
    expect(await obs('hour(phenomenonTime) eq 12 and day(phenomenonTime) eq 1 and month(phenomenonTime) eq 11 and year(phenomenonTime) eq 2026')).toBe(1);
    expect(await obs('date(phenomenonTime) eq 2026-10-31')).toBe(24);
    expect(await obs('minute(phenomenonTime) eq 0 and second(phenomenonTime) eq 0 and phenomenonTime lt now()')).toBe(47);
    expect(await obs('(result sub 1) mul 20 ge 39.9')).toBe(8);
    expect(await obs('hour(phenomenonTime) mod 6 eq 0 and hour(phenomenonTime) div 6 lt 3 and -result lt 0')).toBe(6);
    // 30 Oct 13:00–23:00, 31 Oct 11:00–23:00, 1 Nov 11:00–12:00
    expect(await obs("time(phenomenonTime) ge '11:00:00'")).toBe(11 + 13 + 2);
  });

  it('filters Locations and Things in space: geo.intersects, st_within, geo.distance', async () => {
    const around = "geography'POLYGON((107.55 16.45, 107.57 16.45, 107.57 16.47, 107.55 16.47, 107.55 16.45))'";
    const loc = await get(`/Locations?$select=id&$filter=${encodeURIComponent(`geo.intersects(location, ${around})`)}`);
    expect(loc.body.value).toEqual([{ '@iot.id': 'kim-long' }]);
    const within = await get(`/Things?$select=id&$filter=${encodeURIComponent(`st_within(Locations/location, ${around})`)}`);
    expect(within.body.value).toEqual([{ '@iot.id': 'kim-long' }]);
    const near = await get(`/Locations?$select=id&$orderby=${encodeURIComponent("geo.distance(location, geography'POINT(107.556 16.462)')")}&$top=1`);
    expect(near.body.value).toEqual([{ '@iot.id': 'kim-long' }]);
  });

  it('answers 400 with a message for a bad query and 404 for an unknown entity', async () => {
    for (const q of ['$filter=name eq', "$filter=nosuch eq 'x'", '$top=-1', '$expand=Nothing', '$select=nosuch', '$orderby=result', '$count=maybe', '$foo=1', "$filter=frobnicate(name)"]) {
      const path = q === '$orderby=result' ? "/Datastreams('kim-long:water_level')/Observations?" : '/Things?';
      const { status, body } = await get(path + q.replace(/ /g, '%20'));
      expect(status, q).toBe(400);
      expect(body.message, q).toMatch(/\S/);
    }
    expect((await get("/Things('nowhere')")).status).toBe(404);
    expect((await get('/Widgets')).status).toBe(404);
    expect((await get("/Observations('kim-long:water_level:1')")).status).toBe(404);
    expect((await get("/Things('kim-long')/Nothing")).status).toBe(404);
  });

  it('has no HistoricalLocations: fixed stations never moved', async () => {
    expect((await get('/HistoricalLocations?$count=true')).body).toEqual({ '@iot.count': 0, value: [] });
    // $top=0: the count alone, and no next page
    expect((await get('/Things?$count=true&$top=0')).body).toEqual({ '@iot.count': stations.length, value: [] });
  });
});

describe('SensorThings paging while readings arrive', () => {
  it('a page whose @iot.count says there is more offers the next page, when a reading was stored between the scan and the count', async () => {
    const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    try {
      const reading = (h: number): StoredReading => ({ station: 'phu-oc', device: 'po-01', metric: 'water_level', ts: NOW - h * HOUR, value: 2 + h, quality: 'ok' });
      await store.writeReadings([reading(1), reading(2)]);
      // the real store; a third reading is stored at the moment the count is asked for, as ingest does under way
      let arrived = false;
      const racing = {
        series: store.series.bind(store),
        count: async (q: Parameters<EmbeddedStore['count']>[0]) => {
          if (!arrived) { arrived = true; await store.writeReadings([reading(0)]); }
          return store.count(q);
        },
      };
      const app = Fastify();
      installErrorHandler(app);
      await app.register(async (scope) => staRoutes(scope, { stations, store: racing, clock: { now: () => NOW }, mqtt: { port: 1883, wsPort: 9001 } }));
      await app.ready();
      const res = await app.inject({ url: "/sta/v1.1/Datastreams('phu-oc:water_level')/Observations?$top=2&$count=true", headers: { host: 'sta.test:8080' } });
      const body = res.json() as { '@iot.count': number; '@iot.nextLink'?: string; value: unknown[] };
      expect(body['@iot.count']).toBe(3);
      expect(body.value).toHaveLength(2);
      expect(body['@iot.nextLink']).toMatch(/\$skip=2/);
      await app.close();
    } finally {
      await store.close();
    }
  });
});
