import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from './helpers.ts';

const BIN = fileURLToPath(new URL('../bin/huewatch.js', import.meta.url));

/** What `huewatch start` prints is where a newcomer looks first (#13 defect 5). */
describe('the start banner', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    data = await tempDir();
  });
  afterAll(async () => {
    await data.cleanup();
  });

  it('is the last thing start prints, names the console, the residents\' page and where the tokens are, and each answers', async () => {
    // LOG_LEVEL unset, as `npm start` runs it
    const { LOG_LEVEL: _unset, ...env } = process.env;
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: { ...env, DATA_DIR: data.dir, HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', SIM: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await Promise.race([
        waitFor(() => stdout.includes('Ctrl-C stops it.\n'), 90_000, 'the start banner'),
        exited.then(() => { throw new Error(`start ended: ${stdout}${stderr}`); }),
      ]);
      // nothing before it: routine start logs stay quiet unless LOG_LEVEL asks
      expect(stdout.startsWith('HueWatch is running.\n'), stdout).toBe(true);
      expect(stderr).toBe('');
      const banner = stdout.slice(0, stdout.indexOf('Ctrl-C stops it.\n'));

      const consoleUrl = /^ {2}console +(http:\/\/\S+\/) /m.exec(banner)?.[1];
      const residentsUrl = /^ {2}residents +(http:\/\/\S+\/resident\.html\?area=[\w-]+)$/m.exec(banner)?.[1];
      expect(consoleUrl, banner).toBeDefined();
      expect(residentsUrl, banner).toBeDefined();
      for (const url of [consoleUrl!, residentsUrl!]) {
        const res = await fetch(url);
        expect(res.status, url).toBe(200);
        expect(res.headers.get('content-type'), url).toMatch(/^text\/html/);
        expect(await res.text(), url).toMatch(/<html/i);
      }

      const tokens = /^ {2}tokens +(\/\S+): (\w+(?:, \w+)*)$/m.exec(banner);
      expect(tokens, banner).not.toBeNull();
      const file = JSON.parse(await readFile(tokens![1]!, 'utf8')) as Record<string, unknown>;
      const keys = tokens![2]!.split(', ');
      expect(keys).toEqual(['operatorToken', 'viewerToken', 'adminToken']);
      for (const k of keys) expect(file[k], k).toEqual(expect.stringMatching(/^\S{16,}$/));
      // the tokens named there are this platform's: the operator's is known (403, not 401), the admin's manages devices
      const origin = new URL(consoleUrl!).origin;
      const ops = await fetch(`${origin}/api/v1/devices`, { headers: { authorization: `Bearer ${file.operatorToken as string}` } });
      expect(ops.status).toBe(403);
      const admin = await fetch(`${origin}/api/v1/devices`, { headers: { authorization: `Bearer ${file.adminToken as string}` } });
      expect(admin.status).toBe(200);
    } finally {
      child.kill('SIGINT');
    }
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))])).toBe(0);
  }, 180_000);
});
