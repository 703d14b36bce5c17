import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '../contract/index.ts';
import { silentLogger } from '../lib/log.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { connectClient, tempDir, waitFor } from './helpers.ts';
import { freePort, influxql, startInfluxd, startV2WriteShim } from '../store/test-servers.ts';
import { startHuewatch, stopAllHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * DESIGN.md "Data-path invariants": a device's PUBACK means its reading is durable and will be
 * evaluated by the rules exactly once, whatever is killed. The whole platform runs as one process
 * through its documented entry point (`huewatch start`), devices are real MQTT.js clients with up
 * to 10 readings in flight each, and the process is killed with SIGKILL (or stopped with SIGTERM)
 * at a random point of the stream. Every acknowledged reading must be in the store afterwards.
 */
const STREAM_STATIONS = ['rg-hue', 'rg-nam-dong', 'rg-a-luoi', 'rg-bach-ma', 'rg-thuong-nhat', 'rg-huong-phu'];
const IN_FLIGHT = 10;
const T0 = Date.now() - 2 * 3_600_000;
const tsOf = (seq: number) => T0 + seq * 100;

afterEach(stopAllHuewatch);

/** The one-process platform on this data folder, its MQTT port the same across restarts (persistent sessions). */
const start = (dataDir: string, mqttPort: number, env: Record<string, string> = {}) =>
  startHuewatch({ dataDir, env: { MQTT_PORT: String(mqttPort), ...env }, waitMs: 60_000 });

async function register(p: HuewatchChild, deviceId: string, station: string): Promise<string> {
  const res = await fetch(`${p.httpUrl}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${(await p.secrets()).adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deviceId, station }),
  });
  const body = (await res.json()) as { secret: string };
  expect(res.status).toBe(201);
  return body.secret;
}

/** Registers one streaming device per station through the API and connects it, persistent session. */
async function connectDevices(p: HuewatchChild, prefix: string, stations: readonly string[]): Promise<Array<{ id: string; station: string; client: MqttClient }>> {
  const devices: Array<{ id: string; station: string; client: MqttClient }> = [];
  for (const [i, station] of stations.entries()) {
    const id = `${prefix}-${i}`;
    const secret = await register(p, id, station);
    devices.push({ id, station, client: await connectClient(p.mqttUrl, { username: id, password: secret, clientId: id, clean: false }) });
  }
  return devices;
}

/** a SIGKILL at once; a SIGTERM given time to stop cleanly (SIGKILL past a minute) */
const stopped = (p: HuewatchChild, signal: NodeJS.Signals) => p.stop(signal, 60_000);

/**
 * A device streaming rainfall readings with up to IN_FLIGHT unacknowledged at once, until the
 * connection breaks; returns the seqs the broker acknowledged.
 */
function stream(client: MqttClient, deviceId: string): { acked: Set<number>; done: Promise<void> } {
  const acked = new Set<number>();
  let next = 1;
  const done = new Promise<void>((resolve) => {
    let open = 0;
    let broken = false;
    const pump = () => {
      while (!broken && open < IN_FLIGHT && next <= 100_000) {
        const seq = next++;
        open++;
        client.publish(topics.telemetry(deviceId), JSON.stringify({ ts: tsOf(seq), seq, m: { rainfall: 0 } }), { qos: 1 }, (err) => {
          open--;
          if (!err) acked.add(seq);
          if (!broken) pump();
        });
      }
    };
    client.once('close', () => {
      broken = true;
      resolve();
    });
    pump();
  });
  return { acked, done };
}

/** The ts of every stored rainfall reading of a station, from the platform's own file. */
async function storedTs(dataDir: string, stations: readonly string[]): Promise<Map<string, Set<number>>> {
  const store = await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log: silentLogger() });
  try {
    const out = new Map<string, Set<number>>();
    for (const s of stations) {
      const points = await store.series({ station: s, metric: 'rainfall', from: T0, to: T0 + 100_001 * 100 });
      out.set(s, new Set(points.map((p) => p.ts)));
    }
    return out;
  } finally {
    await store.close();
  }
}

async function runOnce(signal: NodeJS.Signals, killAfterMs: number) {
  const data = await tempDir();
  const port = await freePort();
  try {
    const first = await start(data.dir, port);
    const devices = await connectDevices(first, 'kill', STREAM_STATIONS);
    const streams = devices.map((d) => stream(d.client, d.id));
    // a random point once the stream is flowing (how fast depends on the machine)
    await waitFor(() => streams.reduce((n, s) => n + s.acked.size, 0) >= 200, 30_000, 'the stream to flow');
    await new Promise((r) => setTimeout(r, killAfterMs));
    await stopped(first, signal);
    await Promise.all(streams.map((s) => s.done));
    for (const d of devices) d.client.end(true);

    // the stored readings are read after a restart on the same data folder, then a clean stop
    const second = await start(data.dir, port);
    await stopped(second, 'SIGTERM');
    const stored = await storedTs(data.dir, STREAM_STATIONS);
    let acked = 0;
    const lost: string[] = [];
    for (const [i, d] of devices.entries()) {
      const have = stored.get(d.station)!;
      for (const seq of streams[i]!.acked) {
        acked++;
        if (!have.has(tsOf(seq))) lost.push(`${d.id}#${seq}`);
      }
    }
    return { acked, lost };
  } finally {
    await data.cleanup();
  }
}

describe('an acknowledged reading is durable, whatever stops the platform', () => {
  it('loses none of the acknowledged readings when the one-process platform is killed with SIGKILL mid-stream (two random points)', async () => {
    for (const killAfterMs of [Math.random() * 300, 300 + Math.random() * 1_200]) {
      const { acked, lost } = await runOnce('SIGKILL', killAfterMs);
      expect(acked, 'readings acknowledged before the kill').toBeGreaterThanOrEqual(200);
      expect(lost, `acknowledged but not stored (kill ${Math.round(killAfterMs)} ms into the stream)`).toEqual([]);
    }
  }, 120_000);

  it('loses none of the acknowledged readings when stopped with SIGTERM mid-stream, and stops taking publishes first', async () => {
    const { acked, lost } = await runOnce('SIGTERM', Math.random() * 1_000);
    expect(acked).toBeGreaterThanOrEqual(200);
    expect(lost).toEqual([]);
  }, 120_000);

  it('evaluates a crossing acknowledged just before a SIGKILL once: one alert after the restart, not two', async () => {
    const data = await tempDir();
    const port = await freePort();
    try {
      const first = await start(data.dir, port);
      const secret = await register(first, 'kl-kill', 'kim-long');
      const device = await connectClient(first.mqttUrl, { username: 'kl-kill', password: secret, clientId: 'kl-kill', clean: false });
      const now = Date.now();
      for (let i = 1; i <= 5; i++) {
        await device.publishAsync(topics.telemetry('kl-kill'), JSON.stringify({ ts: now - (6 - i) * 60_000, seq: i, m: { water_level: 0.4 } }), { qos: 1 });
      }
      // level 3 at Kim Long is 3.5 m (config/rules.yaml): acknowledged, then killed at once
      await device.publishAsync(topics.telemetry('kl-kill'), JSON.stringify({ ts: now, seq: 6, m: { water_level: 3.9 } }), { qos: 1 });
      await stopped(first, 'SIGKILL');
      device.end(true);

      const second = await start(data.dir, port);
      const alerts = await waitFor(async () => {
        const body = (await (await fetch(`${second.httpUrl}/api/v1/alerts`)).json()) as { alerts: Array<{ id: string; key: string; level: number; eventSeq: number }> };
        const kl = body.alerts.filter((a) => a.key === 'flood:kim-long');
        return kl.length > 0 && kl;
      }, 20_000, 'the Kim Long alert after the restart');
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.level).toBe(3);
      const history = (await (await fetch(`${second.httpUrl}/api/v1/alerts/${alerts[0]!.id}`)).json()) as { history: Array<{ msgType: string; level: number }> };
      expect(history.history.filter((e) => e.msgType === 'Alert')).toHaveLength(1);
      await stopped(second, 'SIGTERM');
    } finally {
      await data.cleanup();
    }
  }, 120_000);
});

describe('an acknowledged reading is durable while the store is down and spooling', () => {
  it('loses none of the acknowledged readings when the platform is killed with SIGKILL while influxd is down, and replays them once both are back', async () => {
    const influxd = await startInfluxd();
    /** TEST ADAPTER: influxd 1.6.7 has no /api/v2/write (store/test-servers.ts) */
    const shim = await startV2WriteShim(influxd.url);
    const data = await tempDir();
    const port = await freePort();
    try {
      await influxql(influxd.url, 'CREATE DATABASE "spooled"');
      const env = { STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: 'spooled', SPOOL_WRITE_TIMEOUT_MS: '300' };
      const first = await start(data.dir, port, env);
      const devices = await connectDevices(first, 'spool', STREAM_STATIONS.slice(0, 3));
      const streams = devices.map((d) => stream(d.client, d.id));
      const acked = () => streams.reduce((n, x) => n + x.acked.size, 0);
      await waitFor(() => acked() >= 100, 30_000, 'the stream to flow');
      await influxd.kill();
      // the store is down: what is acknowledged from here on went to the spool
      const atOutage = acked();
      await waitFor(() => acked() >= atOutage + 300, 30_000, 'readings acknowledged into the spool');
      await stopped(first, 'SIGKILL');
      await Promise.all(streams.map((x) => x.done));
      for (const d of devices) d.client.end(true);

      await influxd.restart();
      const second = await start(data.dir, port, env);
      const storedOf = async (station: string) => {
        const body = await influxql(influxd.url, `SELECT "rainfall" FROM "rain" WHERE "station" = '${station}'`, { db: 'spooled', epoch: 'ms' });
        return new Set((body.results?.[0]?.series?.[0]?.values ?? []).map((v) => Number(v[0])));
      };
      let lost: string[] = [];
      await waitFor(async () => {
        lost = [];
        for (const [i, d] of devices.entries()) {
          const have = await storedOf(d.station);
          for (const seq of streams[i]!.acked) if (!have.has(tsOf(seq))) lost.push(`${d.id}#${seq}`);
        }
        return lost.length === 0;
      }, 30_000, 'every acknowledged reading in InfluxDB').catch(() => undefined);
      expect(acked()).toBeGreaterThanOrEqual(atOutage + 300);
      expect(lost.slice(0, 20), `${lost.length} acknowledged readings not in InfluxDB`).toEqual([]);
      await stopped(second, 'SIGTERM');
    } finally {
      await data.cleanup();
      await shim.stop();
      await influxd.stop();
    }
  }, 150_000);
});
