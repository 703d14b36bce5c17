import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { defaultDashboard } from '@grafana/schema';
import { createGenerator } from 'ts-json-schema-generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildDashboards, FOLDERS, JSON_DIR, renderDashboard } from '../dashboards/build.ts';
import { ingestWrites, writtenTags } from '../dashboards/ingest-writes.ts';
import { SCHEMA_VERSION } from '../dashboards/lib.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import type { Platform } from '../platform/main.ts';
import { startTestPlatform, tempDir } from './helpers.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const PROVISIONING = join(ROOT, 'dashboards', 'provisioning');
/** where docker-compose.yml mounts dashboards/json inside the grafana container */
const CONTAINER_JSON_DIR = '/var/lib/grafana-huewatch/dashboards';

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));

type Json = Record<string, any>;
const committed = walk(JSON_DIR).filter((f) => f.endsWith('.json'));
const dashboards: Array<{ file: string; d: Json }> = committed.map((file) => ({ file, d: JSON.parse(readFileSync(file, 'utf8')) as Json }));
const yamlFiles = walk(PROVISIONING).filter((f) => /\.ya?ml$/.test(f));
const yamls = new Map(yamlFiles.map((f) => [relative(PROVISIONING, f), parseYaml(readFileSync(f, 'utf8')) as Json]));
const datasources: Json[] = [...yamls.entries()].filter(([f]) => f.startsWith('datasources/')).flatMap(([, y]) => y.datasources ?? []);
const providers: Json[] = [...yamls.entries()].filter(([f]) => f.startsWith('dashboards/')).flatMap(([, y]) => y.providers ?? []);

/** every panel, rows' nested panels included */
const panelsOf = (d: Json): Json[] => (d.panels ?? []).flatMap((p: Json) => [p, ...(p.panels ?? [])]);
const targetsOf = (d: Json) => panelsOf(d).flatMap((p) => (p.targets ?? []).map((t: Json) => ({ panel: p, target: t })));

/** The measurement and the identifiers an InfluxQL statement reads: select-list fields, and the tags/fields after FROM. */
function influxRefs(q: string) {
  const m = /^SELECT\s+(.+?)\s+FROM\s+"([^"]+)"(.*)$/s.exec(q);
  if (!m) throw new Error(`not a SELECT … FROM "…" statement: ${q}`);
  const [, select, measurement, rest] = m as unknown as [string, string, string, string];
  const idents = (s: string) => [...s.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
  // `AS "lat"` names an output column, not a stored field
  return { measurement, fields: idents(select.replace(/\bAS\s+"[^"]+"/gi, '')), filters: idents(rest) };
}

describe('the provisioned Grafana dashboards', () => {
  it('are the files the generator writes, one per dashboard, for every folder', () => {
    const built = buildDashboards();
    expect(committed.map((f) => relative(JSON_DIR, f)).sort()).toEqual(built.map((b) => `${b.folder}/${b.file}`).sort());
    for (const b of built) expect(readFileSync(join(JSON_DIR, b.folder, b.file), 'utf8'), `${b.file}: run node --import tsx dashboards/build.ts`).toBe(renderDashboard(b));
    expect(new Set(built.map((b) => b.folder))).toEqual(new Set(Object.keys(FOLDERS)));
  });

  it('parse, and so does every provisioning file', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(6);
    expect(yamls.size).toBeGreaterThanOrEqual(3);
    for (const [f, y] of yamls) expect(y.apiVersion, f).toBe(1);
  });

  it('have unique uids, and so do the datasources and the folders', () => {
    const uids = dashboards.map(({ d }) => d.uid);
    expect(uids.every((u) => typeof u === 'string' && /^[a-zA-Z0-9_-]{8,40}$/.test(u))).toBe(true);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(datasources.map((d) => d.uid)).size).toBe(datasources.length);
    expect(new Set(providers.map((p) => p.folderUid)).size).toBe(providers.length);
  });

  it('come from one provisioning provider per folder, each reading one folder of dashboards/json', () => {
    const folders = readdirSync(JSON_DIR).sort();
    expect(providers.map((p) => p.options.path).sort()).toEqual(folders.map((f) => `${CONTAINER_JSON_DIR}/${f}`));
    for (const p of providers) {
      expect(p.type).toBe('file');
      expect(p.allowUiUpdates).toBe(false);
      expect(p.folder).toBe(FOLDERS[p.options.path.split('/').pop() as keyof typeof FOLDERS]);
    }
  });

  it('provision the InfluxDB datasource for InfluxQL with an explicit uid and the token from the environment', () => {
    const ds = datasources.find((d) => d.type === 'influxdb')!;
    expect(ds).toMatchObject({ uid: 'huewatch-influx', access: 'proxy', url: '${INFLUX_URL}', jsonData: { version: 'InfluxQL', dbName: '${INFLUX_BUCKET}', httpHeaderName1: 'Authorization' } });
    expect(ds.secureJsonData.httpHeaderValue1).toBe('Token ${INFLUX_TOKEN}');
    expect(JSON.stringify(datasources)).not.toMatch(/password|token\s*:\s*[^$]/i);
  });

  it('point every panel, query and annotation at a provisioned datasource by {type, uid}', () => {
    const known = new Map(datasources.map((d) => [d.uid, d.type]));
    for (const { file, d } of dashboards) {
      for (const p of panelsOf(d).filter((p) => p.type !== 'row')) {
        expect(p.datasource, `${file} "${p.title}"`).toEqual({ type: known.get(p.datasource?.uid), uid: p.datasource?.uid });
        for (const t of p.targets ?? []) expect(known.get(t.datasource?.uid), `${file} "${p.title}" ${t.refId}`).toBe(t.datasource?.type);
      }
      for (const a of d.annotations.list) {
        if (a.builtIn === 1) expect(a.datasource).toEqual({ type: 'grafana', uid: '-- Grafana --' });
        else expect(known.get(a.datasource.uid), `${file} annotation ${a.name}`).toBe(a.datasource.type);
      }
    }
  });

  it('query only measurements, fields and tags that ingest writes, as derived from the metric contract', () => {
    const writes = ingestWrites();
    let checked = 0;
    for (const { file, d } of dashboards) {
      for (const { panel, target } of targetsOf(d).filter(({ target }) => target.datasource.type === 'influxdb')) {
        const where = `${file} "${panel.title}" ${target.refId}`;
        expect(target.rawQuery, where).toBe(true);
        const { measurement, fields, filters } = influxRefs(target.query);
        const known = writes.get(measurement);
        expect(known, `${where}: measurement "${measurement}" is written by no one`).toBeDefined();
        const tags = writtenTags(measurement);
        for (const f of fields) expect(known!.has(f), `${where}: field "${f}" of "${measurement}"`).toBe(true);
        for (const f of filters) expect(tags.includes(f) || known!.has(f), `${where}: tag "${f}" of "${measurement}"`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('read vessel positions from measurement `vessel`, tagged by vessel, as the platform writes them', () => {
    expect([...ingestWrites().get('vessel')!].sort()).toEqual(['cog', 'heading', 'lat', 'lon', 'sog']);
    expect(writtenTags('vessel')).toEqual(['source', 'vessel']);
    const users = dashboards.filter(({ d }) => targetsOf(d).some(({ target }) => target.query && influxRefs(target.query).measurement === 'vessel'));
    expect(users.map(({ d }) => d.uid)).toEqual(['huewatch-fisheries']);
  });

  it('draw each river station\'s alarm levels from config/hue-stations.json as its thresholds', () => {
    const rivers = dashboards.find(({ d }) => d.uid === 'huewatch-rivers')!.d;
    for (const s of loadStations(DEFAULT_STATIONS_FILE).filter((s) => s.kind === 'river')) {
      const p = panelsOf(rivers).find((p) => p.targets?.[0]?.query.includes(`'${s.id}'`))!;
      expect(p, s.id).toBeDefined();
      const steps = p.fieldConfig.defaults.thresholds.steps.slice(1).map((x: Json) => x.value);
      expect(steps).toEqual(Object.values(s.alarmLevels).sort((a, b) => a - b));
    }
  });

  describe('against the running platform', () => {
    let data: Awaited<ReturnType<typeof tempDir>>;
    let platform: Platform;
    beforeAll(async () => {
      data = await tempDir();
      platform = await startTestPlatform(data.dir);
    });
    afterAll(async () => {
      await platform?.stop();
      await data?.cleanup();
    });

    it('chart only Prometheus metrics the platform exports at /metrics', async () => {
      const text = await (await fetch(platform.httpUrl + '/metrics')).text();
      const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
      const exprs = dashboards.flatMap(({ d }) => [
        ...targetsOf(d).filter(({ target }) => target.datasource.type === 'prometheus').map(({ target }) => target.expr as string),
        ...d.annotations.list.filter((a: Json) => a.expr).map((a: Json) => a.expr as string),
      ]);
      expect(exprs.length).toBeGreaterThan(8);
      for (const e of exprs) {
        for (const [name] of e.matchAll(/\bhuewatch_[a-z0-9_]+/g)) expect(exported.has(name.replace(/_(bucket|sum|count)$/, '')), `${name} in ${e}`).toBe(true);
      }
    });
  });
});

describe("Grafana's own dashboard schema", () => {
  // JSON Schema generated from @grafana/schema's `Dashboard` type (the Grafana version compose
  // runs), extra properties allowed: panel options and query fields belong to plugins.
  const require = createRequire(import.meta.url);
  const typesFile = join(require.resolve('@grafana/schema'), '..', '..', 'esm', 'raw', 'dashboard', 'x', 'dashboard_types.gen.d.ts');
  let validate: ReturnType<Ajv['compile']>;
  beforeAll(() => {
    const schema = createGenerator({ path: typesFile, type: 'Dashboard', additionalProperties: true, skipTypeCheck: true }).createSchema('Dashboard');
    validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  });

  it('is at the schema version of the Grafana we run', () => {
    expect(defaultDashboard.schemaVersion).toBe(SCHEMA_VERSION);
    for (const { file, d } of dashboards) expect(d.schemaVersion, file).toBe(SCHEMA_VERSION);
  });

  it('accepts every dashboard', () => {
    for (const { file, d } of dashboards) expect(validate(d) ? [] : validate.errors, file).toEqual([]);
  });

  it('refuses a dashboard that breaks it, so the check above means something', () => {
    const bad = structuredClone(dashboards[0]!.d);
    bad.panels[0].gridPos = { x: 0, y: 0 };
    delete bad.schemaVersion;
    expect(validate(bad)).toBe(false);
    expect(validate.errors!.map((e) => e.message)).toEqual(expect.arrayContaining(["must have required property 'schemaVersion'"]));
  });
});
