import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { launchHuewatch } from './huewatch-child.ts';

/** What `huewatch start` prints is where a newcomer looks first (#13 defect 5). */
describe('the start banner', () => {
  it('is the last thing start prints, names the console, the residents\' page and where the tokens are, and each answers', async () => {
    // LOG_LEVEL unset, as `npm start` runs it
    const platform = await launchHuewatch({ env: { LOG_LEVEL: undefined } });
    const stdout = platform.stdout;
    try {
      expect(await platform.ready, platform.output()).toBe('banner');
      // nothing before it: routine start logs stay quiet unless LOG_LEVEL asks
      expect(stdout().startsWith('HueWatch is running.\n'), stdout()).toBe(true);
      expect(platform.stderr()).toBe('');
      const banner = stdout().slice(0, stdout().indexOf('Ctrl-C stops it.\n'));

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
      expect(await platform.stop('SIGINT', 60_000)).toBe(0);
    }
  }, 180_000);
});
