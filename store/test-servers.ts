import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Real time-series servers for the tests (STYLE.md 8: no test that is off because it needs a
 * server: start the server). Each server gets its own temporary directory and loopback port and is
 * killed on teardown. Debian packages: `influxdb` (1.6.7), `victoria-metrics` (1.79) and
 * `prometheus` (2.42, for the platform-health dashboard's PromQL).
 */

export interface RunningServer {
  /** base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  stop(): Promise<void>;
}

/** How long a server may take to answer its readiness probe (influxd opens in ~1 s here). */
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * A free loopback port: listen on port 0, read the port the kernel chose, close, then hand it to
 * the server. Another process could take it in between; on a test machine that race is rare and
 * shows up as a readiness failure, not as a wrong result.
 */
export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** influxd 1.6.7 with a generated config: loopback only, data in a temp dir, no reporting. */
export async function startInfluxd(): Promise<RestartableServer> {
  const dir = await mkdtemp(join(tmpdir(), 'huewatch-influxd-'));
  const [http, rpc] = [await freePort(), await freePort()];
  const config = `
reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${join(dir, 'meta')}"
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  index-version = "inmem"
[http]
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
  max-row-limit = 0
[logging]
  level = "error"
  suppress-logo = true
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`;
  await writeFile(join(dir, 'influxdb.conf'), config);
  const url = `http://127.0.0.1:${http}`;
  const spawnOnce = () => ready(
    spawn('influxd', ['run', '-config', join(dir, 'influxdb.conf')], { stdio: ['ignore', 'ignore', 'pipe'] }), dir, `${url}/ping`, 204, url,
  );
  let current = await spawnOnce();
  return {
    url,
    kill: () => current.kill(),
    async restart() {
      await current.kill();
      current = await spawnOnce();
    },
    stop: () => current.stop(),
  };
}

/** A server that can be killed (SIGKILL, a crash) and started again on the same port and data. */
export interface RestartableServer extends RunningServer {
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/** victoria-metrics 1.79; `-retentionPeriod=100y` or points older than a month are silently dropped. */
export async function startVictoria(): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'huewatch-victoria-'));
  const port = await freePort();
  const child = spawn('victoria-metrics', [
    `-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=100y', '-loggerLevel=ERROR',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  return ready(child, dir, `${url}/health`, 200, url);
}

/**
 * Prometheus 2.42 scraping `targets` (host:port, path `/metrics`) every second, storage in a temp
 * dir. Scraping each second (not the production 15 s) lets a test see rates after a few seconds.
 */
export async function startPrometheus(targets: string[]): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'huewatch-prometheus-'));
  const port = await freePort();
  const config = `
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: huewatch
    metrics_path: /metrics
    static_configs:
      - targets: ${JSON.stringify(targets)}
`;
  await writeFile(join(dir, 'prometheus.yml'), config);
  const child = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  return ready(child, dir, `${url}/-/ready`, 200, url);
}

/** One series of a PromQL answer: its labels and its [unix seconds, value] samples. */
export interface PromSeries { metric: Record<string, string>; values: Array<[number, string]> }

/**
 * A PromQL range query (`/api/v1/query_range`, what Grafana sends for a time series panel or an
 * annotation) over the last `rangeS` seconds at `stepS`; throws on a query Prometheus refuses.
 */
export async function promqlRange(url: string, query: string, rangeS: number, stepS: number): Promise<PromSeries[]> {
  const end = Date.now() / 1000;
  const res = await fetch(`${url}/api/v1/query_range`, {
    method: 'POST',
    body: new URLSearchParams({ query, start: String(end - rangeS), end: String(end), step: String(stepS) }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSeries[] } };
  if (!res.ok || body.status !== 'success') throw new Error(`PromQL ${query}: ${res.status} ${body.error}`);
  return body.data!.result;
}

/**
 * Watches a server child of the tests or benches: its last stderr, a stop (SIGTERM, then SIGKILL
 * after STOP_TIMEOUT_MS) and a kill, both waiting for the exit, and its temp dir removed with it;
 * a process that dies without teardown kills it on exit, so no server is left running.
 */
export function superviseChild(child: ChildProcess, dir: string) {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    stderr: () => stderr,
    async stop(): Promise<void> {
      if (running()) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
    async kill(): Promise<void> {
      if (running()) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

async function ready(child: ChildProcess, dir: string, probe: string, status: number, url: string): Promise<RunningServer & { kill(): Promise<void> }> {
  const { stderr, stop, kill } = superviseChild(child, dir);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const res = await fetch(probe, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    if (res?.status === status) return { url, stop, kill };
    await sleep(100);
  }
  await stop();
  throw new Error(`${child.spawnfile} did not become ready at ${probe} within ${READY_TIMEOUT_MS} ms: ${stderr()}`);
}

/**
 * TEST ADAPTER, not production code: InfluxDB 1.6.7 has no `/api/v2/write` (1.8+ does), so the
 * client's v2 write path is rewritten to the v1 `/write` endpoint: `bucket` "db" or "db/rp" becomes
 * `db=` (and `rp=`), `precision` is kept, `org` dropped. Everything else (`/query`, `/ping`, gzip
 * bodies, status codes) passes through unchanged.
 */
export async function startV2WriteShim(target: string): Promise<WriteShim> {
  const upstream = new URL(target);
  let failing: { left: number; status: number } = { left: 0, status: 503 };
  const stats = { writes: 0 };
  const server: Server = createHttpServer((req, res) => {
    const incoming = new URL(req.url ?? '/', 'http://shim');
    let path = incoming.pathname + incoming.search;
    if (incoming.pathname === '/api/v2/write') {
      stats.writes++;
      if (failing.left > 0) {
        failing.left--;
        req.resume();
        res.writeHead(failing.status, { 'content-type': 'application/json' }).end('{"error":"injected by the test shim"}');
        return;
      }
      const [db = '', rp] = (incoming.searchParams.get('bucket') ?? '').split('/');
      const q = new URLSearchParams({ db, precision: incoming.searchParams.get('precision') ?? 'ns' });
      if (rp) q.set('rp', rp);
      path = `/write?${q}`;
    }
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', (err) => res.writeHead(502).end(String(err)));
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get writes() { return stats.writes; },
    failWrites(count, status = 503) { failing = { left: count, status }; },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface WriteShim {
  url: string;
  /** write requests seen so far (including failed ones) */
  readonly writes: number;
  /** answer the next `count` write requests with `status` instead of forwarding them */
  failWrites(count: number, status?: number): void;
  stop(): Promise<void>;
}

/** Runs InfluxQL statements on a v1 `/query` endpoint and returns the parsed body (tests only). */
export async function influxql(url: string, q: string, params: Record<string, string> = {}): Promise<InfluxQLBody> {
  const res = await fetch(`${url}/query?${new URLSearchParams({ epoch: 'ms', ...params })}`, {
    method: 'POST', body: new URLSearchParams({ q }), signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as InfluxQLBody;
  const err = body.error ?? body.results?.find((r) => r.error)?.error;
  if (!res.ok || err) throw new Error(`InfluxQL ${q}: ${res.status} ${err}`);
  return body;
}

export interface InfluxQLBody {
  error?: string;
  results?: Array<{ error?: string; series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }> }>;
}

/**
 * A fresh bucket with a DBRP mapping (database = bucket name, rp "autogen") on an InfluxDB 2 the
 * caller points us at, for the INFLUX_URL suite. The token must be allowed to create buckets.
 */
export async function createInflux2Bucket(url: string, token: string, org: string, name: string): Promise<{ drop(): Promise<void> }> {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>);
  };
  const orgs = (await call('GET', `/api/v2/orgs?org=${encodeURIComponent(org)}`)) as { orgs: Array<{ id: string }> };
  const orgID = orgs.orgs[0]?.id;
  if (!orgID) throw new Error(`InfluxDB 2 at ${url} has no org ${org}`);
  const bucket = (await call('POST', '/api/v2/buckets', { orgID, name, retentionRules: [] })) as { id: string };
  await call('POST', '/api/v2/dbrps', { orgID, bucketID: bucket.id, database: name, retention_policy: 'autogen', default: true });
  return { drop: async () => void (await call('DELETE', `/api/v2/buckets/${bucket.id}`)) };
}
