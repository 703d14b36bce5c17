import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Test support around Debian tools (.ci/run installs them: socat, libmodbus-dev, gcc, mbpoll).
 * A missing tool makes the test fail with the tool's name, never skip.
 */

const run = promisify(execFile);

export interface PtyPair {
  a: string;
  b: string;
  close(): Promise<void>;
}

/** `socat -d -d pty,raw,echo=0 pty,raw,echo=0`: two linked pseudo-terminals, names read from stderr. */
export async function openPtyPair(): Promise<PtyPair> {
  const proc = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const names = await new Promise<string[]>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`socat gave no pty names in 5 s: ${err}`)), 5_000);
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (apt-get install socat): ${e.message}`));
    });
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const found = [...err.matchAll(/PTY is (\S+)/g)].map((m) => m[1]!);
      if (found.length >= 2 && /starting data transfer loop/.test(err)) {
        clearTimeout(timer);
        resolve(found);
      }
    });
  });
  return { a: names[0]!, b: names[1]!, close: () => stop(proc) };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const EXAMPLES = '/usr/share/doc/libmodbus-dev/examples';

/**
 * Builds libmodbus's own unit-test server (Debian libmodbus-dev examples) into a temp dir, with
 * the TCP port and serial device taken from the environment instead of its fixed 1502 and
 * /dev/ttyUSB0 at 115200 (so tests use ephemeral ports and a pty at 9600).
 */
export async function buildLibmodbusServer(): Promise<{ binary: string; dir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'hw-libmodbus-'));
  try {
    copyFileSync(join(EXAMPLES, 'unit-test.h'), join(dir, 'unit-test.h'));
    const src = readFileSync(join(EXAMPLES, 'unit-test-server.c'), 'utf8')
      .replace('modbus_new_tcp("127.0.0.1", 1502)', 'modbus_new_tcp("127.0.0.1", atoi(getenv("UT_PORT")))')
      .replace('modbus_new_rtu("/dev/ttyUSB0", 115200,', 'modbus_new_rtu(getenv("UT_TTY"), 9600,');
    if (!src.includes('getenv("UT_PORT")') || !src.includes('getenv("UT_TTY")')) throw new Error('unit-test-server.c changed upstream: cannot patch its port/device');
    writeFileSync(join(dir, 'unit-test-server.c'), '#include <stdlib.h>\n' + src);
    const binary = join(dir, 'unit-test-server');
    await run('gcc', ['-O1', '-o', binary, join(dir, 'unit-test-server.c'), '-I/usr/include/modbus', '-lmodbus'], { timeout: 60_000 });
    return { binary, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot build libmodbus's unit-test-server (apt-get install libmodbus-dev gcc): ${(err as Error).message}`);
  }
}

export async function startLibmodbusServer(binary: string, mode: 'tcp' | 'rtu', env: { UT_PORT?: string; UT_TTY?: string }): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(binary, [mode], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
  if (mode === 'tcp') {
    // it prints nothing useful on readiness, and accepts exactly one client, so readiness is read
    // from the kernel's socket table: a probe that bound the same port itself raced the server's
    // own bind, and the server, failing to listen, aborted (SIGABRT in CI).
    // 20 s: under the full suite's parallel load the exec alone has taken over 5 s
    const port = Number(env.UT_PORT);
    const end = Date.now() + 20_000;
    while (!isListening(port)) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`libmodbus unit-test-server exited (${proc.exitCode ?? proc.signalCode}) before it listened`);
      if (Date.now() > end) throw new Error('libmodbus unit-test-server did not listen in 20 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  } else await new Promise((r) => setTimeout(r, 200));
  return { proc, stop: () => stop(proc) };
}

/** True when some socket is in LISTEN state on 127.0.0.1:port (Linux /proc/net/tcp, state 0A). */
function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return local === `0100007F:${hex}` && state === '0A';
    });
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      resolve();
    }, 2_000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

