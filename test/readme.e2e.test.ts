import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from './helpers.ts';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The README's own commands, read from README.md when the test runs (so the README cannot drift):
 * the fenced `sh` blocks and `npx huewatch …` spans of "Try it" and "Point a real device at it",
 * run with bash against `huewatch start` (a child process, ephemeral ports, a temporary DATA_DIR),
 * changed only as a user on those ports would change them: the port after `localhost:8080`, `-p`
 * after `-h`, HOST and SECRET filled in, `data/` read as that DATA_DIR, DATA_DIR and HTTP_PORT
 * exported for `npx huewatch`. Commands that run until Ctrl-C (the SSE stream, mosquitto_sub) run
 * under `timeout`. To read HTTP status, every curl gets `-i`.
 */

/** the text of a `## ` section of README.md, up to the next `## ` heading */
function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${heading}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** the commands of the fenced sh blocks in a text (indented blocks in lists too), continuation lines joined */
function shBlocks(text: string): string[][] {
  const blocks: string[][] = [];
  for (const m of text.matchAll(/^( *)```sh\n([\s\S]*?)^\1```/gm)) {
    const lines = m[2]!.split('\n').map((l) => l.slice(m[1]!.length));
    const commands: string[] = [];
    let pending = '';
    for (const line of lines) {
      if (line.endsWith('\\')) pending += line.slice(0, -1);
      else if ((pending + line).trim()) {
        commands.push((pending + line).trim());
        pending = '';
      }
    }
    blocks.push(commands);
  }
  return blocks;
}

/** a trailing `# comment` (outside quotes) removed, so flags can be added at the end */
const uncomment = (cmd: string) => cmd.replace(/\s+#\s[^'"]*$/, '');

interface Ports {
  http: string;
  mqtt: string;
  dataDir: string;
  secret?: string;
}

/** the command as a user on these ports would type it */
function localise(cmd: string, p: Ports): string {
  let c = uncomment(cmd)
    .replace(/\blocalhost:8080\b/g, `127.0.0.1:${p.http}`)
    .replace(/-h (HOST|127\.0\.0\.1|localhost)\b/g, `-h 127.0.0.1 -p ${p.mqtt}`)
    .replace(/(^|[\s(])data\//g, `$1${p.dataDir}/`);
  if (p.secret) c = c.replace(/\bSECRET\b/g, p.secret);
  c = c.replace(/^curl /, 'curl -i ');
  // runs until Ctrl-C: let it run a few seconds
  if (/^curl .*-N\b/.test(c) || /^mosquitto_sub\b/.test(c)) c = `timeout 3 ${c}`;
  return c;
}

interface Ran {
  cmd: string;
  rc: number;
  out: string;
}

/** runs the commands in one bash (so `T=$(…)` carries over), each one's output and exit code apart */
async function runBlock(commands: string[], p: Ports): Promise<Ran[]> {
  // stderr with stdout: a failing command shows why
  const script = 'exec 2>&1\n' + commands.map((c, i) => `echo "@@begin ${i}"; ${localise(c, p)}; rc=$?; echo; echo "@@end ${i} $rc"`).join('\n');
  const { stdout } = await exec('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, DATA_DIR: p.dataDir, HTTP_PORT: p.http, MQTT_PORT: p.mqtt, LOG_LEVEL: 'warn' }, timeout: 180_000, maxBuffer: 16 << 20 });
  return commands.map((cmd, i) => {
    const m = new RegExp(`@@begin ${i}\\n([\\s\\S]*?)\\n@@end ${i} (\\d+)`).exec(stdout);
    if (!m) throw new Error(`no output for ${cmd}: ${stdout}`);
    return { cmd, rc: Number(m[2]), out: m[1]! };
  });
}

/** status, content type and body of `curl -i` output (the last response; curl's progress meter, on stderr, may precede it) */
function httpResponse(out: string) {
  const text = out.replace(/\r\n/g, '\n');
  const starts = [...text.matchAll(/HTTP\/[\d.]+ \d{3} /g)];
  const last = starts[starts.length - 1];
  if (!last) return { status: NaN, type: '', body: '' };
  const rest = text.slice(last.index);
  const cut = rest.indexOf('\n\n');
  const head = cut < 0 ? rest : rest.slice(0, cut);
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head)![1]), type: /^content-type:\s*(.*)$/im.exec(head)?.[1] ?? '', body: cut < 0 ? '' : rest.slice(cut + 2).trim() };
}

describe('the README commands', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: HuewatchChild;
  let ports: Ports;
  const readme = () => readFileSync(`${ROOT}/README.md`, 'utf8');
  const api = async (path: string, token?: string) => {
    const res = await fetch(`http://127.0.0.1:${ports.http}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    data = await tempDir('huewatch-readme-');
    // `npm start` on ephemeral ports; the calm scenario, so no simulated Kim Long reading is 2.31 m
    platform = await startHuewatch({ cwd: ROOT, dataDir: data.dir, waitMs: 45_000, env: { SIM: '1', SIM_SCENARIO: 'calm', SIM_INTERVAL_MS: '1000' } });
    ports = {
      http: new URL(platform.httpUrl).port,
      mqtt: new URL(platform.mqttUrl).port,
      dataDir: data.dir,
    };
  }, 60_000);

  afterAll(async () => {
    await platform?.stop('SIGINT', 15_000);
    await data?.cleanup();
  });

  it('"Try it": every curl answers 200 with JSON (the stream with an event stream), mosquitto_sub stays subscribed', async () => {
    const [block] = shBlocks(section(readme(), 'Try it'));
    expect(block!.filter((c) => c.startsWith('curl ')).length).toBeGreaterThanOrEqual(4);
    for (const r of await runBlock(block!, ports)) {
      if (r.cmd.startsWith('curl ')) {
        const res = httpResponse(r.out);
        expect(res.status, `${r.cmd}: ${r.out.slice(0, 500)}`).toBe(200);
        if (/-N\b/.test(r.cmd)) {
          expect(r.rc, r.cmd).toBe(124); // still streaming when stopped
          expect(res.type, r.cmd).toMatch(/^text\/event-stream/);
        } else {
          expect(r.rc, r.cmd).toBe(0);
          expect(res.type, r.cmd).toMatch(/^application\/json/);
          expect(() => JSON.parse(res.body), `${r.cmd}: ${res.body.slice(0, 200)}`).not.toThrow();
        }
      } else {
        // mosquitto_sub as an anonymous resident: subscribed until stopped (a refusal exits at once)
        expect(r.cmd).toMatch(/^mosquitto_sub /);
        expect(r.rc, `${r.cmd}: ${r.out}`).toBe(124);
      }
    }
  }, 120_000);

  it('"Try it", vessels: the viewer-token curls answer JSON and `npx huewatch device add` registers a tracker and a receiver', async () => {
    const [, vessels] = shBlocks(section(readme(), 'Try it'));
    expect(vessels!.some((c) => c.startsWith('T=$(jq'))).toBe(true);
    // the simulated fleet must have sailed for the track to exist
    const viewer = (JSON.parse(readFileSync(`${data.dir}/secrets.json`, 'utf8')) as { viewerToken: string }).viewerToken;
    const tracked = /vessels\/([^/\s]+)\/track/.exec(vessels!.join('\n'))![1]!;
    await waitFor(async () => (await api(`/api/v1/vessels/${tracked}/track`, viewer)).status === 200, 30_000, `a track of ${tracked}`);

    const ran = await runBlock(vessels!, ports);
    for (const r of ran) {
      if (r.cmd.startsWith('curl ')) {
        const res = httpResponse(r.out);
        expect(res.status, r.cmd).toBe(200);
        const body = JSON.parse(res.body) as Record<string, unknown>;
        if (r.cmd.includes('/track')) expect(body).toMatchObject({ type: 'Feature', geometry: { type: 'LineString' } });
      } else if (r.cmd.startsWith('npx huewatch device add')) {
        expect(r.rc, `${r.cmd}: ${r.out}`).toBe(0);
        expect(r.out, r.cmd).toMatch(/MQTT password: \S{20,}/);
      } else expect(r.rc, r.cmd).toBe(0);
    }
    expect(ran.filter((r) => r.cmd.startsWith('npx huewatch device add')).length).toBe(2);
  }, 240_000);

  it('"Point a real device at it": registered with npx huewatch, its mosquitto_pub reading is stored, and a refused one is answered on its errors topic', async () => {
    const text = section(readme(), 'Point a real device at it');
    const register = [...text.matchAll(/`(npx huewatch device add [^`]+)`/g)].map((m) => m[1]!);
    expect(register).toHaveLength(1);
    const [added] = await runBlock(register, ports);
    expect(added!.rc, added!.out).toBe(0);
    const deviceId = /MQTT username: (\S+)/.exec(added!.out)![1]!;
    const secret = /MQTT password: (\S+)/.exec(added!.out)![1]!;

    const [publish, refused] = shBlocks(text);
    expect(publish).toHaveLength(1);
    expect(publish![0]).toMatch(new RegExp(`^mosquitto_pub .*-i ${deviceId}\\b`));
    const from = Date.now() - 1000;
    const [pub] = await runBlock(publish!, { ...ports, secret });
    expect(pub!.rc, pub!.out).toBe(0);
    // read back: the reading, at the second it was sent (the example's `$(date +%s)000`)
    const stored = await waitFor(async () => {
      const { body } = await api(`/api/v1/stations/kim-long/series?metric=water_level&from=${from}`);
      return (body.points as Array<{ ts: string; value: number }>).find((p) => p.value === 2.31);
    }, 5000, 'the reading in the store');
    expect(Date.parse(stored.ts) % 1000).toBe(0);
    expect(Date.parse(stored.ts)).toBeGreaterThanOrEqual(from - 1000);

    expect(refused).toHaveLength(1);
    expect(refused![0]).toMatch(new RegExp(`-e huewatch/v1/devices/${deviceId}/errors`));
    const [rr] = await runBlock(refused!, { ...ports, secret });
    expect(rr!.rc, rr!.out).toBe(0);
    const error = JSON.parse(rr!.out.trim()) as { code: string; topic: string; problem: string };
    expect(error).toMatchObject({ code: 'HW_ERR_TS_TOO_OLD', topic: `huewatch/v1/telemetry/${deviceId}` });
    // the README says what it prints
    expect(text).toContain(`{"code":"${error.code}",`);
  }, 240_000);
});
