import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../store/test-servers.ts';
import { waitFor } from './helpers.ts';
import { launchHuewatch, stopAllHuewatch } from './huewatch-child.ts';

/**
 * Issue #12: with the simulator on (the default), every station of the catalogue reports, so
 * nothing on the operations console stays grey: river and rain stations, the air-quality monitors
 * with what VN_AQI needs, and every reservoir with its level, inflow and outflow (the dam PLCs of
 * config/modbus.yaml over Modbus TCP, the others over MQTT). Driven as a user would: `huewatch
 * start` as a child process, then the HTTP API.
 */
/** What each kind of station must report for its rules and dashboards. */
const NEEDED: Record<string, string[]> = {
  river: ['water_level'],
  rain: ['rainfall'],
  air: ['pm25', 'pm10'],
  reservoir: ['reservoir_level', 'inflow', 'outflow'],
};

afterEach(stopAllHuewatch);

interface Latest {
  id: string;
  kind: string;
  latest: Record<string, { value: number; ts: string; quality: string }>;
}

/** `huewatch start …` in a temp data dir on free ports; resolves once it is up, or has exited. */
async function start(args: string[], env: Record<string, string> = {}) {
  // SIM is not set: on by default. A short interval so the whole fleet reports within seconds.
  const p = await launchHuewatch({ args, env: { SIM: undefined, MQTT_PORT: String(await freePort()), SIM_INTERVAL_MS: '500', ...env } });
  await p.ready;
  return { child: p.child, output: p.output, httpUrl: /HTTP API\s+(http:\/\/\S+?)\/api/.exec(p.output())?.[1] };
}

describe('huewatch start with the simulator on', () => {
  it('every station of the catalogue has a recent reading of what its rules need', async () => {
    const { child, output, httpUrl } = await start([]);
    expect(child.exitCode, output()).toBeNull();
    expect(output()).toMatch(/simulator\s+on/);
    const startedAt = Date.now();

    const { stations } = (await (await fetch(`${httpUrl!}/api/v1/stations`)).json()) as { stations: Array<{ id: string; kind: string }> };
    expect(stations.map((s) => s.kind).sort()).toEqual(expect.arrayContaining(['air', 'rain', 'reservoir', 'river']));

    const missing = (all: Latest[]) =>
      all.flatMap((s) => (NEEDED[s.kind] ?? []).filter((m) => !s.latest[m] || Date.parse(s.latest[m]!.ts) < startedAt - 60_000).map((m) => `${s.id}/${m}`));
    let last: Latest[] = [];
    // the Modbus poller reads the dam PLCs every 10 s; the MQTT fleet reports every 500 ms
    await waitFor(async () => {
      last = await Promise.all(stations.map(async (s) => (await (await fetch(`${httpUrl!}/api/v1/stations/${s.id}`)).json()) as Latest));
      return missing(last).length === 0;
    }, 60_000, 'a reading from every station').catch(() => undefined);
    expect(missing(last)).toEqual([]);
    // …and what they report is good data, not a range error: nothing grey, nothing red
    const bad = last.flatMap((s) => Object.entries(s.latest).filter(([, l]) => l.quality !== 'ok').map(([m, l]) => `${s.id}/${m}=${l.value}`));
    expect(bad).toEqual([]);
  }, 180_000);

  it('--faults makes the named station misbehave: a spiking gauge reads its error value', async () => {
    const { child, output, httpUrl } = await start(['--faults', 'phu-oc:spike']);
    expect(child.exitCode, output()).toBeNull();
    // the 4th reading is the first spike (firmware-sim/faults.ts); kim-long reports as usual
    const seen = await waitFor(async () => {
      const points = ((await (await fetch(`${httpUrl}/api/v1/stations/phu-oc/series?metric=water_level`)).json()) as { points: Array<{ value: number }> }).points;
      return points.some((p) => p.value === 1000) && points;
    }, 60_000, 'a spike at phu-oc');
    expect(seen.length).toBeGreaterThanOrEqual(4);
    const kimLong = ((await (await fetch(`${httpUrl}/api/v1/stations/kim-long/series?metric=water_level`)).json()) as { points: Array<{ value: number }> }).points;
    expect(kimLong.length).toBeGreaterThan(0);
    expect(kimLong.every((p) => p.value < 10)).toBe(true);
  }, 180_000);

  it('a fault that does not exist, or a station that is not simulated, stops the start with a clear error', async () => {
    const typo = await start([], { SIM_FAULTS: 'kim-long:melted' });
    expect(typo.child.exitCode).toBeGreaterThan(0); // 2 for a configuration mistake (platform/cli.ts)
    expect(typo.output()).toContain('SIM_FAULTS');
    expect(typo.output()).toContain('"kim-long:melted": expected station:fault');
    // ta-trach's level comes from its dam PLC over Modbus, not from a simulated MQTT station
    const notSimulated = await start(['--faults', 'ta-trach:stuck,nowhere:gap']);
    expect(notSimulated.child.exitCode).toBeGreaterThan(0);
    expect(notSimulated.output()).toContain('SIM_FAULTS: no simulated device for station ta-trach, nowhere');
  }, 180_000);
});
