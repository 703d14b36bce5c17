import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../store/test-servers.ts';

/**
 * `node bin/huewatch.js start` as a bench's child, as a stranger runs it: SIM=0, a temp DATA_DIR,
 * free loopback ports, ready when `GET /health` answers, its admin token read from
 * DATA_DIR/secrets.json. Every child is killed when the bench process exits, error included.
 * `BENCH_PROF_DIR` runs it under `--cpu-prof` (a profile written at its stop).
 */
export interface PlatformProcess {
  child: ChildProcess;
  dataDir: string;
  httpUrl: string;
  mqttUrl: string;
  adminToken: string;
  /** the last 4,000 characters it wrote */
  output(): string;
  /** SIGTERM, SIGKILL after `stopWaitMs`; the DATA_DIR removed */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export async function startPlatformProcess(o: {
  /** the temp DATA_DIR's name prefix, e.g. `huewatch-bench-ingest-` */
  tmpPrefix: string;
  /** over the defaults; may be built from the DATA_DIR (files written there first) */
  env: (dataDir: string) => Record<string, string>;
  readyMs: number;
  stopWaitMs: number;
}): Promise<PlatformProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), o.tmpPrefix));
  const [mqttPort, httpPort, wsPort, opsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const prof = process.env.BENCH_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`, '--cpu-prof-interval=500'] : [];
  // e.g. BENCH_NODE_FLAGS="--max-semi-space-size=64": V8 flags for the platform only
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...prof, ...flags, join(ROOT, 'bin/huewatch.js'), 'start'], {
    cwd: ROOT,
    env: {
      ...process.env, SIM: '0', DATA_DIR: dataDir, HOST: '127.0.0.1', LOG_LEVEL: 'error',
      MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), MQTT_WS_PORT: String(wsPort), OPS_PORT: String(opsPort),
      ...o.env(dataDir),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const keep = (d: Buffer) => void (output = (output + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), o.stopWaitMs);
      await exited;
      clearTimeout(t);
    }
    children.delete(child);
    await rm(dataDir, { recursive: true, force: true });
  };
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  try {
    const deadline = Date.now() + o.readyMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`platform exited (${child.exitCode}) before it was ready: ${output}`);
      const res = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (res?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`platform not ready at ${httpUrl}/health within ${o.readyMs / 1000} s: ${output}`);
      await sleep(200);
    }
    const { adminToken } = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8')) as { adminToken: string };
    return { child, dataDir, httpUrl, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, adminToken, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
