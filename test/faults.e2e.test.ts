import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { startSimulator, simDeviceId, type Simulator } from '../firmware-sim/fleet.ts';
import type { FaultSpec } from '../firmware-sim/faults.ts';
import type { ScenarioOptions } from '../firmware-sim/scenarios.ts';
import { silentLogger } from '../lib/log.ts';
import { loadConfig } from '../platform/config.ts';
import { startPlatform, type Platform } from '../platform/main.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { collect, connectClient, registerDevice, tempDir, waitFor } from './helpers.ts';

/**
 * Issue #12: simulated stations with injected faults (firmware-sim/faults.ts) against the real
 * platform over real MQTT, checked as a hydrologist would: a bad sensor is a sensor fault and never
 * a flood, a silent station is offline (and only it), a skewed clock is bounded, nothing delivered
 * twice is counted twice, readings out of order keep their order and do not flap an alert, and a
 * store-and-forward flush is stored once without a false offline or a live alarm from old readings.
 *
 * Time: the platform and the devices share one clock that runs WORLD_SPEED times real time from
 * now, so an hour of readings (ts) passes in 15 s and hold times, silences and the ts bound all
 * apply as in the field. The engine's staleness tick still runs every 30 s of real time.
 */
const WORLD_SPEED = 240;
/** one reading per simulated minute */
const INTERVAL_MS = 60_000 / WORLD_SPEED;
const MIN = 60_000;

const stations = loadStations(DEFAULT_STATIONS_FILE);
const station = (id: string) => stations.find((s) => s.id === id)!;

interface World {
  platform: Platform;
  sim: Simulator;
  clock: { now(): number };
  /** every alert event a resident's app received (anonymous, `huewatch/v1/alerts/#`) */
  residentEvents(): AlertEvent[];
  cleanup(): Promise<void>;
}

async function startWorld(faults: Record<string, FaultSpec[]>, ids: string[], scenario: 'calm' | 'flood', scenarioOptions: ScenarioOptions = {}): Promise<World> {
  const t0 = Date.now();
  const clock = { now: () => t0 + (Date.now() - t0) * WORLD_SPEED };
  const { dir, cleanup } = await tempDir('huewatch-faults-');
  const config = loadConfig({ HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', DATA_DIR: dir, SIM: '0', LOG_LEVEL: 'silent' });
  const platform = await startPlatform(config, silentLogger(), clock);
  const resident = await connectClient(platform.mqttUrl);
  const received = collect(resident);
  await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
  const devices = [];
  for (const id of ids) devices.push({ deviceId: simDeviceId(id), secret: await registerDevice(platform, simDeviceId(id), id), station: station(id) });
  // speed 1: simulated time is the (fast) world's time, so a reading's ts and its value agree
  const sim = await startSimulator({ url: platform.mqttUrl, devices, scenario, intervalMs: INTERVAL_MS, speed: 1, log: silentLogger(), clock, faults, scenarioOptions });
  return {
    platform, sim, clock,
    residentEvents: () => received.filter((m) => m.payload.length > 0).map((m) => JSON.parse(m.payload) as AlertEvent),
    async cleanup() {
      await resident.endAsync();
      await sim.stop();
      await platform.stop();
      await cleanup();
    },
  };
}

async function alerts(w: World): Promise<AlertEvent[]> {
  const res = await fetch(`${w.platform.httpUrl}/api/v1/alerts`, { headers: { authorization: `Bearer ${w.platform.operatorToken}` } });
  return ((await res.json()) as { alerts: AlertEvent[] }).alerts;
}
const at = (list: AlertEvent[], id: string) => list.filter((a) => a.source.station === id);
const kindOf = (a: AlertEvent) => a.key.split(':')[0]!;
/** a hazard (flood, rise, rain, air) rather than a device condition (offline, sensor fault) */
const hazards = (list: AlertEvent[], id: string) => at(list, id).filter((a) => a.category !== 'Infra').map((a) => `${a.key} ${a.status} ${a.source.value}`);

async function series(w: World, id: string, metric: string): Promise<Array<{ ts: string; value: number }>> {
  const res = await fetch(`${w.platform.httpUrl}/api/v1/stations/${id}/series?metric=${metric}`, { headers: { authorization: `Bearer ${w.platform.viewerToken}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { points: Array<{ ts: string; value: number }> }).points;
}

describe('faulty sensors and a silent station (calm river, value faults)', () => {
  let w: World;
  const ids = ['kim-long', 'aq-hue-center', 'phu-oc', 'phong-binh', 'cau-truoi', 'thuong-nhat', 'rg-hue'];
  beforeAll(async () => {
    w = await startWorld({
      'kim-long': [{ kind: 'stuck' }],
      'aq-hue-center': [{ kind: 'stuck' }],
      'phu-oc': [{ kind: 'spike' }],
      'phong-binh': [{ kind: 'drift' }],
      'cau-truoi': [{ kind: 'gap' }],
      'thuong-nhat': [{ kind: 'clock-skew', skewMs: 3_600_000 }],
    }, ids, 'calm');
    // an hour and a half of readings, past the stuck span (1 h) and one staleness tick past the gap's 30 min
    await waitFor(async () => at(await alerts(w), 'cau-truoi').some((a) => kindOf(a) === 'device-offline'), 90_000, 'the silent station offline');
    await waitFor(async () => {
      const list = await alerts(w);
      return ['kim-long', 'aq-hue-center', 'phu-oc', 'phong-binh'].every((id) => at(list, id).some((a) => kindOf(a) === 'sensor-fault'));
    }, 60_000, 'sensor faults').catch(() => undefined);
  }, 200_000);
  afterAll(async () => w?.cleanup(), 60_000);

  it('a stuck river gauge and a stuck PM2.5 monitor raise a sensor fault, and no hazard alert', async () => {
    const list = await alerts(w);
    for (const id of ['kim-long', 'aq-hue-center']) {
      expect(at(list, id).map(kindOf), id).toContain('sensor-fault');
      expect(hazards(list, id), id).toEqual([]);
    }
    // the stored values are the stuck sensor's: one value, over more than an hour of readings
    const kl = await series(w, 'kim-long', 'water_level');
    const stuck = kl.slice(3);
    expect(new Set(stuck.map((p) => p.value)).size).toBe(1);
    expect(Date.parse(stuck.at(-1)!.ts) - Date.parse(stuck[0]!.ts)).toBeGreaterThanOrEqual(60 * MIN);
  });

  it('spikes (a logger\'s error value) raise a sensor fault and no flood alarm', async () => {
    const list = await alerts(w);
    expect(at(list, 'phu-oc').find((a) => kindOf(a) === 'sensor-fault')?.source.value).toBeGreaterThan(100);
    expect(hazards(list, 'phu-oc')).toEqual([]);
  });

  it('a gauge drifting down out of its physical range raises a sensor fault and no alarm', async () => {
    const list = await alerts(w);
    expect(at(list, 'phong-binh').map(kindOf)).toContain('sensor-fault');
    expect(hazards(list, 'phong-binh')).toEqual([]);
  });

  it('a station gone silent is offline; the stations that report are not', async () => {
    const list = await alerts(w);
    const offline = ids.filter((id) => at(list, id).some((a) => kindOf(a) === 'device-offline' && a.status === 'active'));
    // thuong-nhat's clock is an hour ahead: the platform refuses every reading it sends, so it is
    // as silent as cau-truoi (its first readings were on time)
    expect(offline.sort()).toEqual(['cau-truoi', 'thuong-nhat']);
    expect(at(list, 'rg-hue')).toEqual([]);
  });

  it('readings from a clock an hour ahead are refused: nothing stored beyond the ts bound, no alarm', async () => {
    const stored = await series(w, 'thuong-nhat', 'water_level');
    expect(stored.length).toBe(3); // the readings before the skew began
    const horizon = w.clock.now() + 5 * MIN;
    expect(stored.every((p) => Date.parse(p.ts) <= horizon)).toBe(true);
    expect(hazards(await alerts(w), 'thuong-nhat')).toEqual([]);
  });
});

describe('delivery faults during a flood (duplicates, out of order, store-and-forward)', () => {
  let w: World;
  const OUTAGE = 120; // readings (minutes) without a link: the whole flood passes during it
  beforeAll(async () => {
    w = await startWorld({
      'rg-hue': [{ kind: 'duplicate' }],
      'phu-oc': [{ kind: 'out-of-order' }],
      'kim-long': [{ kind: 'store-and-forward', readings: OUTAGE }],
    }, ['rg-hue', 'phu-oc', 'kim-long'], 'flood', { floodStartS: 600, riseS: 1800, recessionS: 1800, rainLeadS: 600 });
    const kimLong = w.sim.devices.find((d) => d.deviceId === 'sim-kim-long')!;
    // the outage ends and the backlog is flushed …
    await waitFor(() => kimLong.stats().seq > 3 + OUTAGE + 5, 120_000, 'the flush');
    // … then two staleness ticks (30 s each) pass with the station reporting again
    await new Promise((r) => setTimeout(r, 65_000));
    await w.sim.stop();
  }, 300_000);
  afterAll(async () => w?.cleanup(), 60_000);

  it('readings delivered twice are stored and summed once', async () => {
    const dev = w.sim.devices.find((d) => d.deviceId === 'sim-rg-hue')!;
    const taken = dev.stats().seq;
    const points = await waitFor(async () => {
      const p = await series(w, 'rg-hue', 'rainfall');
      return p.length >= taken && p;
    }, 20_000, 'every rain reading stored').catch(async () => series(w, 'rg-hue', 'rainfall'));
    expect(points.length).toBe(taken);
    expect(new Set(points.map((p) => p.ts)).size).toBe(taken);
    // the rain rules count each reading once too: no window the residents were told of holds more
    // rain than the gauge measured in all (a duplicate counted twice would double it)
    const total = points.reduce((sum, p) => sum + p.value, 0);
    const told = w.residentEvents()
      .filter((e) => e.source.station === 'rg-hue')
      .flatMap((e) => [...((e as { windows?: Array<{ sum: number }> }).windows ?? []).map((x) => x.sum), ...(e.source.metric === 'rainfall' ? [e.source.value] : [])]);
    expect(told.length).toBeGreaterThan(0);
    expect(Math.max(...told)).toBeLessThanOrEqual(total + 0.05);
    expect(Math.max(...told)).toBeGreaterThan(total / 2);
  });

  it('readings out of order are stored in observation order, and the flood alarm does not flap', async () => {
    const taken = w.sim.devices.find((d) => d.deviceId === 'sim-phu-oc')!.stats().seq;
    const points = await series(w, 'phu-oc', 'water_level');
    // the last reading of a swapped pair may still be held when the device stopped
    expect(points.length).toBeGreaterThanOrEqual(taken - 1);
    const ts = points.map((p) => Date.parse(p.ts));
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const floods = at(await alerts(w), 'phu-oc').filter((a) => kindOf(a) === 'flood');
    // the flood passed phu-oc's alarm levels: one alert, raised once, not raised and cleared over and over
    expect(floods.length).toBe(1);
  });

  it('a store-and-forward flush is stored once, without a false offline or a live alarm from old readings', async () => {
    const taken = w.sim.devices.find((d) => d.deviceId === 'sim-kim-long')!.stats().seq;
    const points = await series(w, 'kim-long', 'water_level');
    expect(points.length).toBe(taken);
    expect(new Set(points.map((p) => p.ts)).size).toBe(taken);
    // the flood passed during the outage: the flushed history shows it …
    expect(Math.max(...points.map((p) => p.value))).toBeGreaterThan(3.5);
    const list = at(await alerts(w), 'kim-long');
    // … but it was over when the backlog came in: no resident was alarmed (nor told of an all-clear)
    // for a flood an hour gone, and the station, reporting again, is not offline
    expect(w.residentEvents().filter((e) => e.key === 'flood:kim-long').map((e) => `${e.msgType} level ${e.level} ${e.source.value} m at ${e.source.observedAt}`)).toEqual([]);
    expect(list.filter((a) => kindOf(a) === 'flood').map((a) => `${a.key} ${a.status} ${a.source.value}`)).toEqual([]);
    expect(list.filter((a) => kindOf(a) === 'device-offline' && a.status === 'active')).toEqual([]);
  });
});
