import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { z } from 'zod';
import { tempDir } from './helpers.ts';

/**
 * `huewatch start` (or `huewatch sim`) as a child process, as a user runs it: ephemeral ports, a
 * temporary DATA_DIR unless one is given, stdout and stderr collected, the URLs read from the banner
 * it prints. Every wait is bounded, and whatever a test file leaves running is killed when it ends.
 */
export const BIN = fileURLToPath(new URL('../bin/huewatch.js', import.meta.url));

/** The last line of the banner of `start` (platform/cli.ts), and of the `sim` command's one line. */
const BANNER_END = 'Ctrl-C stops it.';

export interface HuewatchOptions {
  /** `start` unless asked: `sim` runs the simulated fleet against a platform elsewhere */
  command?: 'start' | 'sim';
  /** after the command, e.g. `['--scenario', 'flood-2025']` */
  args?: string[];
  /** over the defaults below; a key set to undefined is left out of the child's environment */
  env?: Record<string, string | undefined>;
  /** the DATA_DIR; without it a temporary one, removed by stop() */
  dataDir?: string;
  cwd?: string;
  /** how long the banner may take (every simulated device's secret is scrypt-hashed first) */
  waitMs?: number;
}

/** What tests read of DATA_DIR/secrets.json (platform/secrets.ts writes it). */
const secretsFile = z.looseObject({
  adminToken: z.string(),
  operatorToken: z.string(),
  viewerToken: z.string(),
  simDevices: z.record(z.string(), z.string()).default({}),
});
export type HuewatchSecrets = z.infer<typeof secretsFile>;

export interface HuewatchChild {
  child: ChildProcess;
  dataDir: string;
  /** stdout and stderr as they came */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** the exit code (null when ended by a signal) */
  exited: Promise<number | null>;
  /** resolves with 'banner' once the banner is printed, or 'exited' if the process ended before it; rejects after waitMs */
  ready: Promise<'banner' | 'exited'>;
  /** from the banner; each throws when the banner does not name it */
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly wsUrl: string;
  /** the ops listener's origin, when this process has one */
  readonly opsUrl: string | undefined;
  secrets(): Promise<HuewatchSecrets>;
  /** sends the signal and waits up to waitMs for the exit code; past that, SIGKILL and `still running: <output>` */
  stop(signal?: NodeJS.Signals, waitMs?: number): Promise<number | null | string>;
}

const running = new Set<HuewatchChild>();

/** Every child a test file left running is stopped (SIGKILL after a bounded wait) when it ends. */
export async function stopAllHuewatch(): Promise<void> {
  await Promise.all([...running].map((h) => h.stop('SIGTERM')));
}
afterAll(stopAllHuewatch);
// a test runner that dies does not leave platforms listening
process.once('exit', () => {
  for (const h of running) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
});

/** Spawns the command; does not wait (see `ready`, or startHuewatch). */
export async function launchHuewatch(opts: HuewatchOptions = {}): Promise<HuewatchChild> {
  const temp = opts.dataDir === undefined ? await tempDir('huewatch-child-') : undefined;
  const dataDir = opts.dataDir ?? temp!.dir;
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', OPS_PORT: '0', SIM: '0', LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [BIN, opts.command ?? 'start', ...(opts.args ?? [])], {
    env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  let out = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; out += d; });
  child.stderr!.on('data', (d) => { stderr += d; out += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  const waitMs = opts.waitMs ?? 90_000;
  const ready = new Promise<'banner' | 'exited'>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`huewatch ${opts.command ?? 'start'}: no banner after ${waitMs} ms: ${out.slice(-2000)}`)), waitMs);
    const check = () => {
      if (out.includes(BANNER_END)) {
        clearTimeout(timer);
        resolve('banner');
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    // 'close' comes after the last output, so a banner printed just before the end is seen
    child.once('close', () => {
      clearTimeout(timer);
      resolve(out.includes(BANNER_END) ? 'banner' : 'exited');
    });
  });
  ready.catch(() => undefined); // awaited by whoever needs it

  const fromBanner = (what: string, re: RegExp): string => {
    const url = re.exec(out)?.[1];
    if (!url) throw new Error(`the banner names no ${what}: ${out.slice(0, 2000)}`);
    return url;
  };
  let stopping: Promise<number | null | string> | undefined;
  const handle: HuewatchChild = {
    child,
    dataDir,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    ready,
    get httpUrl() { return fromBanner('HTTP API', /HTTP API\s+(http:\/\/[^/\s]+)/); },
    get mqttUrl() { return fromBanner('MQTT URL', /MQTT\s+(mqtt:\/\/\S+)/); },
    get wsUrl() { return fromBanner('MQTT/WS URL', /MQTT\/WS\s+(ws:\/\/\S+)/); },
    get opsUrl() { return /ops\s+(http:\/\/[^/\s]+)/.exec(out)?.[1]; },
    secrets: async () => secretsFile.parse(JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8'))),
    stop: (signal = 'SIGTERM', stopWaitMs = 15_000) => (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<string>((r) => { timer = setTimeout(() => r(`still running: ${out.slice(-2000)}`), stopWaitMs); })]);
      clearTimeout(timer);
      if (typeof code === 'string') {
        child.kill('SIGKILL');
        await exited;
      }
      running.delete(handle);
      await temp?.cleanup();
      return code;
    })()),
  };
  running.add(handle);
  return handle;
}

/** Spawns the command and waits for its banner; a process that ends before it is an error with its output. */
export async function startHuewatch(opts: HuewatchOptions = {}): Promise<HuewatchChild> {
  const h = await launchHuewatch(opts);
  if ((await h.ready) === 'exited') throw new Error(`huewatch ${opts.command ?? 'start'} exited ${h.child.exitCode}: ${h.output()}`);
  return h;
}
