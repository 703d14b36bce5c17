import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Ingest } from '../ingest/ingest.ts';
import { loadRuleFile } from '../rules/load.ts';
import type { Config } from './config.ts';
import { startOpsServer } from './ops-server.ts';
import { rulesOpsRoutes } from './rules-rpc.ts';
import { loadOrCreateSecrets } from './secrets.ts';
import { startApi } from './start-api.ts';
import { serviceClients, startBroker } from './start-broker.ts';
import { createStopSteps, type StartContext } from './start-context.ts';
import { startPipeline } from './start-pipeline.ts';
import { startFlows } from './start-flows.ts';
import { startSimulators } from './start-simulators.ts';
import { openStores } from './start-stores.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from './stations.ts';

export const DEFAULT_RULES_FILE = new URL('../config/rules.yaml', import.meta.url).pathname;

export interface Platform {
  mqttUrl: string;
  mqttPort?: number;
  wsPort?: number;
  /** the TLS listeners, when TLS_CERT_FILE and TLS_KEY_FILE are set */
  mqttsPort?: number;
  wssPort?: number;
  httpUrl?: string;
  /** the ops listener (/health, /metrics) of a process without the API */
  opsUrl?: string;
  adminToken: string;
  operatorToken: string;
  viewerToken: string;
  stop(): Promise<void>;
}

/**
 * The composition root: builds every adapter and service of this process from the config and
 * wires them over MQTT, exactly as separate processes would be. Stops in reverse order.
 */
export async function startPlatform(config: Config, log: Logger, clock: { now(): number } = Date): Promise<Platform> {
  const dataDir = resolve(config.DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const stops = createStopSteps(log);

  try {
    const secrets = await loadOrCreateSecrets(dataDir, config);
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics });
    const stations = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE);
    const rules = loadRuleFile(config.RULES_FILE ?? DEFAULT_RULES_FILE, { stations });
    const run = new Set(config.SERVICES);
    const c: StartContext = { config, dataDir, run, secrets, log, metrics, clock, onStop: stops.push };

    const stores = await openStores(c);
    // Services that share the broker's process talk through its in-process API (DESIGN.md "The
    // flow"); the others connect over MQTT.
    let ingest: Ingest | undefined;
    const { mqttUrl, mqttPort, wsPort, mqttsPort, wssPort, localBus } = await startBroker(c, stores.devices, () => ingest);
    const bus = serviceClients(c, mqttUrl, localBus);
    const pipeline = await startPipeline(c, stores, bus, { stations, rules }, (started) => (ingest = started));
    const httpUrl = run.has('api') ? await startApi(c, stores, bus, pipeline, { stations, rules }, { ...(mqttPort === undefined ? {} : { port: mqttPort }), ...(wsPort === undefined ? {} : { wsPort }) }) : undefined;
    if (config.NODERED) await startFlows(c, mqttUrl, httpUrl);
    if (config.SIM && run.has('broker') && stores.local) await startSimulators(c, mqttUrl, stores.local, pipeline, stations);

    let opsUrl: string | undefined;
    if (!run.has('api')) {
      const { local, series } = stores;
      // Last, so that a healthy answer means every service of this process is up.
      const ops = await startOpsServer({
        host: config.HOST,
        port: config.OPS_PORT,
        log,
        metrics,
        services: config.SERVICES,
        problems: () => bus.clients.filter((cl) => !cl.connected).map((cl) => `MQTT ${cl.options.clientId} is not connected`),
        degraded: () => series?.problems() ?? [],
        ...(local ? { routes: (app) => rulesOpsRoutes(app, { token: secrets.serviceToken, state: local, operator: pipeline.operator!, ...(pipeline.vessels ? { vessels: pipeline.vessels } : {}), devices: pipeline.deviceAdmin! }) } : {}),
      });
      stops.push(() => ops.close());
      opsUrl = ops.url;
    }

    return { mqttUrl, ...(mqttPort === undefined ? {} : { mqttPort }), ...(wsPort === undefined ? {} : { wsPort }), ...(mqttsPort === undefined ? {} : { mqttsPort }), ...(wssPort === undefined ? {} : { wssPort }), ...(httpUrl ? { httpUrl } : {}), ...(opsUrl ? { opsUrl } : {}), adminToken: secrets.adminToken, operatorToken: secrets.operatorToken, viewerToken: secrets.viewerToken, stop: stops.stop };
  } catch (err) {
    await stops.stop();
    throw err;
  }
}
