import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { convert } from 'xmlbuilder2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandler } from '../api/errors.ts';
import { installOpenApi } from '../api/openapi.ts';
import { bearerAuth, sha256Hex } from '../api/auth.ts';
import { capRoutes } from '../api/routes/cap.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert, kimLongCancel, kimLongUpdate } from '../test/alert-fixtures.ts';
import { tempDir } from '../test/helpers.ts';
import { capFeed, capGeometry, capIdentifier, capTime, DEFAULT_CAP_OPTIONS, OPERATORS_RESTRICTION, toCap } from './cap.ts';

const run = promisify(execFile);
const XSD = new URL('../test/fixtures/cap/CAP-v1.2.xsd', import.meta.url).pathname;
const opts = { ...DEFAULT_CAP_OPTIONS, baseUrl: 'https://huewatch.example' };

const T0 = Date.parse('2026-11-22T03:00:00.250Z');
const alert = kimLongAlert(T0);
const update = kimLongUpdate(alert, T0 + 600_000);
const cancel = kimLongCancel(update, T0 + 7200_000);
/** a sensor fault: a rule with `audience: operators` (contract/topics.ts OPERATORS_AREA) */
const fault = kimLongAlert(T0, { id: 'a-fault-1', key: 'sensor-fault:kim-long', category: 'Infra', area: { ...alert.area, codes: ['operators'] } });

type Obj = Record<string, any>;
const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const parse = (xml: string): Obj => (convert(xml, { format: 'object' }) as Obj).alert;

/** Checks the schema cannot (CAP §3.3.3): closed rings of ≥ 4 pairs, WGS 84 ranges, radius > 0. */
function geometryProblems(xml: string): string[] {
  const problems: string[] = [];
  const pair = (s: string) => s.split(',').map(Number) as [number, number];
  const ok = ([lat, lon]: [number, number]) => lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
  for (const info of asArray(parse(xml).info as Obj)) {
    for (const area of asArray(info.area as Obj)) {
      for (const poly of asArray<string>(area.polygon)) {
        const pts = poly.trim().split(/\s+/).map(pair);
        if (pts.length < 4) problems.push('polygon with fewer than 4 pairs');
        if (pts[0]!.join() !== pts[pts.length - 1]!.join()) problems.push('open polygon');
        if (!pts.every(ok)) problems.push('polygon point out of range');
      }
      for (const circle of asArray<string>(area.circle)) {
        const [centre, radius] = circle.trim().split(/\s+/);
        if (!ok(pair(centre!)) || !(Number(radius) > 0)) problems.push('bad circle');
      }
    }
  }
  return problems;
}

describe('CAP 1.2 messages', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir('huewatch-cap-');
  });
  afterAll(async () => dir?.cleanup());

  const validate = async (name: string, xml: string) => {
    const file = join(dir.dir, `${name}.xml`);
    await writeFile(file, xml);
    const { stderr } = await run('xmllint', ['--noout', '--schema', XSD, file]);
    expect(stderr).toMatch(/validates/);
  };

  it('writes times as the schema demands: local +07:00, whole seconds, no Z', () => {
    expect(capTime('2026-11-22T03:00:00.250Z')).toBe('2026-11-22T10:00:00+07:00');
    expect(capTime('2026-11-22T20:30:59Z')).toBe('2026-11-23T03:30:59+07:00');
  });

  it('validates the Alert, the Update and the Cancel against the OASIS CAP 1.2 schema with xmllint', async () => {
    await validate('alert', toCap(alert, [alert], opts));
    await validate('update', toCap(update, [alert, update], opts));
    await validate('cancel', toCap(cancel, [alert, update, cancel], opts));
    // an alert with a circle only, no expiry and an operator note
    const manual = kimLongAlert(T0, { id: 'manual-1', expires: null, area: { ...alert.area, polygon: undefined }, operator: { user: 'ioc-1', at: alert.sent, reason: 'Lệnh sơ tán' } });
    await validate('manual', toCap(manual, [manual], opts));
  });

  it('marks an alert for operators only Restricted, with the restriction CAP 1.2 §3.2.2 requires, and still validates', async () => {
    const xml = toCap(fault, [fault], opts);
    expect(parse(xml)).toMatchObject({ scope: 'Restricted', restriction: OPERATORS_RESTRICTION });
    await validate('restricted', xml);
    expect(parse(toCap(alert, [alert], opts)).restriction).toBeUndefined();
    // a manual alert for a commune and the IOC alike is for the public
    const both = kimLongAlert(T0, { area: { ...alert.area, codes: ['kim-long', 'operators'] } });
    expect(parse(toCap(both, [both], opts)).scope).toBe('Public');
  });

  it('leaves alerts for operators only out of the Atom feed', () => {
    const feed = capFeed([fault, alert], opts, T0);
    expect(feed).toContain('a-kim-long-1');
    expect(feed).not.toContain('a-fault-1');
  });

  it('gives each message an info block in vi-VN and one in en-US with the alert texts', () => {
    const cap = parse(toCap(alert, [alert], opts));
    expect(cap).toMatchObject({ '@xmlns': 'urn:oasis:names:tc:emergency:cap:1.2', identifier: capIdentifier(alert), sender: opts.sender, sent: '2026-11-22T10:00:00+07:00', status: 'Actual', msgType: 'Alert', scope: 'Public' });
    expect(cap.references).toBeUndefined();
    const [vi, en] = cap.info as [Obj, Obj];
    expect(vi).toMatchObject({ language: 'vi-VN', category: 'Met', event: 'Lũ sông Hương', urgency: 'Immediate', severity: 'Moderate', certainty: 'Observed', headline: alert.headline.vi, expires: '2026-11-22T16:00:00+07:00' });
    // xmlbuilder2's object form leaves entities as written: the wire form is escaped, as it must be
    expect(vi.instruction).toBe('Theo dõi thông tin &amp; chuẩn bị &lt;di dời&gt; khi cần.');
    expect(en).toMatchObject({ language: 'en-US', headline: alert.headline.en, area: { areaDesc: alert.area.name.en, geocode: { valueName: 'huewatch:area', value: 'kim-long' }, circle: '16.462,107.556 3' } });
  });

  it('has an Update and a Cancel reference every earlier message by sender, identifier and sent', () => {
    const up = parse(toCap(update, [alert, update], opts));
    expect(up.msgType).toBe('Update');
    expect(up.references).toBe(`${opts.sender},${capIdentifier(alert)},2026-11-22T10:00:00+07:00`);
    const end = parse(toCap(cancel, [cancel, update, alert], opts));
    expect(end.msgType).toBe('Cancel');
    expect(end.references).toBe(`${opts.sender},urn:huewatch:alert:a-kim-long-1:1,2026-11-22T10:00:00+07:00 ${opts.sender},urn:huewatch:alert:a-kim-long-1:2,2026-11-22T10:10:00+07:00`);
    expect(end.info[0].responseType).toBe('AllClear');
  });

  it('writes closed polygons and circles in range, closing an open ring and leaving out an impossible one', () => {
    expect(geometryProblems(toCap(alert, [alert], opts))).toEqual([]);
    const open = kimLongAlert(T0, { area: { ...alert.area, polygon: [[16.47, 107.54], [16.47, 107.57], [16.45, 107.57]] } });
    const xml = toCap(open, [open], opts);
    expect(geometryProblems(xml)).toEqual([]);
    expect(parse(xml).info[0].area.polygon).toBe('16.47,107.54 16.47,107.57 16.45,107.57 16.47,107.54');
    expect(capGeometry({ ...alert.area, polygon: [[96, 107], [16, 107.5], [16.1, 107.6], [96, 107]] }).problems).toEqual(['polygon: a coordinate is out of range']);
    const bad = kimLongAlert(T0, { area: { ...alert.area, polygon: [[96, 107], [16, 107.5], [16.1, 107.6], [96, 107]] } });
    expect(parse(toCap(bad, [bad], opts)).info[0].area.polygon).toBeUndefined();
  });
});

describe('the CAP routes', () => {
  const VIEWER = 'viewer-token-for-cap-tests';
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedStore;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = await tempDir('huewatch-cap-routes-');
    store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log: silentLogger() });
    for (const e of [alert, update]) await store.appendAlertEvent(e);
    const other = kimLongAlert(T0 + 60_000, { id: 'a-phu-oc-1', key: 'flood:phu-oc', area: { ...alert.area, codes: ['phu-oc'] } });
    await store.appendAlertEvent(other);
    await store.appendAlertEvent(kimLongCancel(other, T0 + 120_000));
    await store.appendAlertEvent(fault);
    app = Fastify();
    installErrorHandler(app);
    await installOpenApi(app); // the routes' zod schemas validate their input, as in the API
    const requireRole = bearerAuth([{ name: 'viewer', role: 'viewer', sha256: sha256Hex(VIEWER) }]);
    await app.register(async (scope) => capRoutes(scope, { state: store, cap: opts, requireRole }));
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await dir?.cleanup();
  });

  it('serves the latest message of an alert, and an earlier one by its sequence number', async () => {
    const latest = await app.inject('/cap/a-kim-long-1.xml');
    expect(latest.statusCode).toBe(200);
    expect(latest.headers['content-type']).toMatch(/^application\/cap\+xml/);
    expect(parse(latest.body)).toMatchObject({ identifier: capIdentifier(update), msgType: 'Update' });
    const first = await app.inject('/cap/a-kim-long-1.xml?seq=1');
    expect(parse(first.body)).toMatchObject({ identifier: capIdentifier(alert), msgType: 'Alert' });
    expect((await app.inject('/cap/nope.xml')).json()).toMatchObject({ code: 'HW_ERR_NOT_FOUND' });
    expect((await app.inject('/cap/a-kim-long-1.xml?seq=9')).statusCode).toBe(404);
  });

  it('lists only the alerts in force in the Atom feed, each linking its CAP message', async () => {
    const res = await app.inject('/cap/feed.atom');
    expect(res.headers['content-type']).toMatch(/^application\/atom\+xml/);
    const feed = (convert(res.body, { format: 'object' }) as Obj).feed;
    const entries = asArray(feed.entry as Obj);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ id: capIdentifier(update), title: update.headline.vi, link: { '@href': 'https://huewatch.example/cap/a-kim-long-1.xml', '@type': 'application/cap+xml' } });
    const file = join(dir.dir, 'feed.atom');
    await writeFile(file, res.body);
    await run('xmllint', ['--noout', file]); // well-formed
  });

  it('answers 404 for an alert for operators only without a token, and its Restricted message with one', async () => {
    for (const url of ['/cap/a-fault-1.xml', '/cap/a-fault-1.xml?seq=1']) {
      const anon = await app.inject(url);
      expect(anon.statusCode).toBe(404);
      expect(anon.json()).toMatchObject({ code: 'HW_ERR_NOT_FOUND' });
    }
    expect((await app.inject({ url: '/cap/a-fault-1.xml', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    const viewer = await app.inject({ url: '/cap/a-fault-1.xml', headers: { authorization: `Bearer ${VIEWER}` } });
    expect(viewer.statusCode).toBe(200);
    expect(viewer.headers['cache-control']).toBe('private, no-store');
    expect(parse(viewer.body)).toMatchObject({ identifier: capIdentifier(fault), scope: 'Restricted', restriction: OPERATORS_RESTRICTION });
    expect((await app.inject('/cap/feed.atom')).body).not.toContain('a-fault-1');
  });
});
