import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createAlertFeed } from '../api/alert-feed.ts';
import { sha256Hex } from '../api/auth.ts';
import { buildApi } from '../api/server.ts';
import { createBrokerServer } from '../broker/server.ts';
import { hashSecret } from '../broker/secrets.ts';
import { SERVICE_NAMES } from '../broker/acl.ts';
import { startSimulator, simDeviceId } from '../firmware-sim/fleet.ts';
import { createIngest } from '../ingest/ingest.ts';
import { createRulesEngine } from '../rules/engine.ts';
import { loadRuleFile } from '../rules/load.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { openTimeSeries } from '../store/open.ts';
import type { Config } from './config.ts';
import { createDeviceDirectory } from './device-directory.ts';
import { registerDevice } from './devices.ts';
import { loadOrCreateSecrets, saveSecrets } from './secrets.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from './stations.ts';

export const DEFAULT_RULES_FILE = new URL('../config/rules.yaml', import.meta.url).pathname;

export interface Platform {
  mqttUrl: string;
  mqttPort?: number;
  wsPort?: number;
  httpUrl?: string;
  adminToken: string;
  stop(): Promise<void>;
}

/**
 * The composition root: builds every adapter and service of this process from the config and
 * wires them over MQTT, exactly as separate processes would be. Stops in reverse order.
 */
export async function startPlatform(config: Config, log: Logger, clock: { now(): number } = Date): Promise<Platform> {
  const dataDir = resolve(config.DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log.error({ err }, 'error while stopping'));
    stops.length = 0;
  };

  try {
    const secrets = await loadOrCreateSecrets(dataDir, config);
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics });
    const stations = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE);
    const rules = loadRuleFile(config.RULES_FILE ?? DEFAULT_RULES_FILE, { stations });
    const run = new Set(config.SERVICES);
    // Platform state lives in the embedded file, which DuckDB lets one process open: a process given
    // STATE_URL that runs neither the API nor the rules engine looks devices up through the API.
    const remoteState = config.STATE_URL !== undefined && !run.has('api') && !run.has('rules');
    const local = remoteState ? undefined : await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log });
    if (local) stops.push(() => local.close());
    const devices = local ?? createDeviceDirectory({ url: config.STATE_URL!, token: secrets.serviceToken, log });
    // only the paths that do not run with remote state (rules, API, simulator) use `store` itself
    const store = local!;
    const series = await openTimeSeries({ config, dataDir, embedded: local, spool: run.has('ingest'), log, metrics });
    stops.push(() => series.close());

    let mqttUrl = config.MQTT_URL ?? '';
    let mqttPort: number | undefined;
    let wsPort: number | undefined;
    if (run.has('broker')) {
      const broker = createBrokerServer({
        log,
        metrics,
        devices,
        services: await Promise.all(SERVICE_NAMES.map(async (name) => ({ name, secretHash: await hashSecret(secrets.services[name]) }))),
        allowAnonymousResidents: config.MQTT_ALLOW_ANONYMOUS,
        maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
        host: config.HOST,
        port: config.MQTT_PORT,
        wsPort: config.MQTT_WS_PORT,
      });
      ({ mqttPort, wsPort } = await broker.start());
      stops.push(() => broker.stop());
      mqttUrl = `mqtt://${config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST}:${mqttPort}`;
    }
    if (!mqttUrl) throw new Error('MQTT_URL: required when this process does not run the broker');

    // manualConnect: the caller connects in its start(), after installing its message handler: a
    // resumed persistent session delivers queued messages right after CONNACK, and MQTT.js acks
    // whatever arrives before handleMessage is set
    const connect = async (service: keyof typeof secrets.services, clean = true, manualConnect = false): Promise<MqttClient> => {
      const opts = { username: `svc-${service}`, password: secrets.services[service], clientId: `svc-${service}`, clean, reconnectPeriod: 1000 };
      const client = manualConnect ? mqtt.connect(mqttUrl, { ...opts, manualConnect }) : await mqtt.connectAsync(mqttUrl, opts);
      stops.push(() => client.endAsync());
      return client;
    };

    if (run.has('ingest')) {
      // A persistent session: what the broker delivered but ingest had not stored comes again.
      const ingest = createIngest({ mqtt: await connect('ingest', false, true), store: series.writes, devices, log, metrics, clock });
      await ingest.start();
      stops.push(() => ingest.stop());
    }
    if (run.has('rules')) {
      const engine = createRulesEngine({ rules, stations, mqtt: await connect('rules'), state: store, log, metrics, clock });
      await engine.start();
      stops.push(() => engine.stop());
    }
    let httpUrl: string | undefined;
    if (run.has('api')) {
      const feed = createAlertFeed({ mqtt: await connect('api'), state: store, log });
      await feed.start();
      stops.push(() => feed.stop());
      const app = await buildApi({
        store: series.reads,
        state: store,
        stations,
        feed,
        metrics,
        log,
        clock,
        tokens: [{ name: 'admin', role: 'admin', sha256: sha256Hex(secrets.adminToken) }],
        serviceTokens: [sha256Hex(secrets.serviceToken)],
        registerDevice: (deviceId, station) => registerDevice(store, stations, deviceId, station, clock.now()),
      });
      await app.listen({ host: config.HOST, port: config.HTTP_PORT });
      stops.push(() => app.close());
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT;
      httpUrl = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
    }

    if (config.SIM && run.has('broker') && local) {
      // Simulated devices are registered like real ones, with their secrets kept in the data dir.
      const simStations = stations.filter((s) => s.kind === 'river' || s.kind === 'rain');
      for (const s of simStations) {
        const id = simDeviceId(s.id);
        if (!secrets.simDevices[id] || !(await store.getDevice(id))) {
          secrets.simDevices[id] = (await registerDevice(store, stations, id, s.id, clock.now())).secret;
        }
      }
      await saveSecrets(dataDir, secrets);
      const sim = await startSimulator({
        url: mqttUrl,
        devices: simStations.map((s) => ({ deviceId: simDeviceId(s.id), secret: secrets.simDevices[simDeviceId(s.id)]!, station: s })),
        scenario: config.SIM_SCENARIO,
        intervalMs: config.SIM_INTERVAL_MS,
        speed: config.SIM_SPEED,
        log,
      });
      stops.push(() => sim.stop());
    }

    return { mqttUrl, ...(mqttPort === undefined ? {} : { mqttPort }), ...(wsPort === undefined ? {} : { wsPort }), ...(httpUrl ? { httpUrl } : {}), adminToken: secrets.adminToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
