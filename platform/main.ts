import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createAlertFeed } from '../api/alert-feed.ts';
import { createDeviceStatus } from '../api/device-status.ts';
import { sha256Hex } from '../api/auth.ts';
import { buildApi } from '../api/server.ts';
import { createBrokerServer } from '../broker/server.ts';
import { createLocalBus } from '../broker/local-bus.ts';
import type { Bus } from '../contract/bus.ts';
import { hashSecret } from '../broker/secrets.ts';
import { SERVICE_NAMES } from '../broker/acl.ts';
import { startSimulator, simDeviceId } from '../firmware-sim/fleet.ts';
import { createIngest, type Ingest } from '../ingest/ingest.ts';
import { createRulesEngine, type RulesEngine } from '../rules/engine.ts';
import { loadRuleFile } from '../rules/load.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { openTimeSeries } from '../store/open.ts';
import { ConfigError, type Config } from './config.ts';
import { createDeviceDirectory } from './device-directory.ts';
import { createDeviceAdmin, simDeviceCredentials } from './devices.ts';
import { deviceChangedTopic } from '../broker/auth-revocation.ts';
import { loadOrCreateSecrets, saveSecrets } from './secrets.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from './stations.ts';
import { DEFAULT_SEA_ZONES_FILE, loadVesselRegister, startVessels, type VesselServices } from './vessels.ts';
import { AIS_RECEIVER, vesselTarget } from '../lib/devices.ts';
import type { VesselRegistry } from '../ingest/vessels/registry.ts';
import { SIM_AIS_RECEIVER, simFleetDevices, startVesselFleet } from '../firmware-sim/fleet-vessels.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { startModbus } from './modbus.ts';
import { createDeliveryMetrics } from '../delivery/metrics.ts';
import { createWebhookDelivery, loadWebhookEndpoints } from '../delivery/webhooks.ts';
import { createWebPushDelivery, loadOrCreateVapidKeys } from '../delivery/webpush.ts';
import { createManualAlertPublisher } from '../delivery/manual-alerts.ts';
import { DEFAULT_CAP_OPTIONS } from '../delivery/cap.ts';
import type { OperatorActions } from '../rules/operator-actions.ts';
import { startNodeRed } from '../flows/run.ts';
import { startOpsServer } from './ops-server.ts';
import { remoteRules, rulesOpsRoutes, type SharedState } from './rules-rpc.ts';

export const DEFAULT_RULES_FILE = new URL('../config/rules.yaml', import.meta.url).pathname;

export interface Platform {
  mqttUrl: string;
  mqttPort?: number;
  wsPort?: number;
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
    // Platform state lives in the embedded file, which DuckDB lets one process open: the process
    // running the rules engine. Elsewhere devices are looked up at STATE_URL (else RULES_URL), and
    // an API calls the rules process's objects at RULES_URL (config.ts refuses anything else).
    const local = run.has('rules') ? await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log, metrics }) : undefined;
    if (local) stops.push(() => local.close());
    const devices = local ?? createDeviceDirectory({ url: (config.STATE_URL ?? config.RULES_URL)!, token: secrets.serviceToken, log });
    const remote = !local && run.has('api') ? remoteRules(config.RULES_URL!, secrets.serviceToken) : undefined;
    // the state the API and delivery channels use: the local file, or the rules process's
    const shared: SharedState | undefined = local ?? remote?.state;
    // a broker alone keeps no readings
    const series = run.has('ingest') || run.has('rules') || run.has('api')
      ? await openTimeSeries({ config, dataDir, embedded: local, spool: run.has('ingest'), log, metrics })
      : undefined;
    if (series) stops.push(() => series.close());

    let mqttUrl = config.MQTT_URL ?? '';
    let mqttPort: number | undefined;
    let wsPort: number | undefined;
    // Services that share the broker's process talk through its in-process API (DESIGN.md "The
    // flow"); the others connect over MQTT. Ingest and rules in one process: readings go from
    // ingest straight into the engine, beside the group commit.
    let ingest: Ingest | undefined;
    let engine: RulesEngine | undefined;
    let localBus: (Bus & { close(): Promise<void> }) | undefined;
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
        // the PUBACK of a device's telemetry waits for ingest's group commit (ingest/ingest.ts)
        // (before ingest exists, a moment at start, a publish is refused: no PUBACK, the device resends)
        ...(run.has('ingest') ? { ingress: (deviceId: string, payload: Buffer, topic: string) => ingest ? ingest.accept(deviceId, payload, topic) : Promise.reject(new Error('ingest is starting')) } : {}),
      });
      ({ mqttPort, wsPort } = await broker.start());
      stops.push(() => broker.stop());
      const bus = createLocalBus(broker.aedes);
      localBus = bus;
      stops.push(() => bus.close());
      mqttUrl = `mqtt://${config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST}:${mqttPort}`;
    }
    if (!mqttUrl) throw new ConfigError(['MQTT_URL is unset: required when this process does not run the broker']);

    // manualConnect: the caller connects in its start(), after installing its message handler: a
    // resumed persistent session delivers queued messages right after CONNACK, and MQTT.js acks
    // whatever arrives before handleMessage is set
    const clients: MqttClient[] = [];
    const connect = async (service: keyof typeof secrets.services, clean = true, manualConnect = false, role = ''): Promise<MqttClient> => {
      const opts = { username: `svc-${service}`, password: secrets.services[service], clientId: `svc-${service}${role}`, clean, reconnectPeriod: 1000 };
      const client = manualConnect ? mqtt.connect(mqttUrl, { ...opts, manualConnect }) : await mqtt.connectAsync(mqttUrl, opts);
      clients.push(client);
      stops.push(() => client.endAsync());
      return client;
    };
    const busFor = async (service: keyof typeof secrets.services, role = ''): Promise<Bus> => localBus ?? connect(service, true, false, role);

    // one connection of the rules account: the engine and the vessel rules share it (two with
    // one client id would take each other's session over, for ever [MQTT-3.1.4-2])
    const rulesBus = local ? await busFor('rules') : undefined;
    if (local) {
      engine = createRulesEngine({
        rules, stations, mqtt: rulesBus!, state: local, series: series!.reads, log, metrics, clock,
        // fed by ingest directly when it runs here; else observations come over MQTT
        subscribeObs: !run.has('ingest'),
      });
    }
    let modbus: Awaited<ReturnType<typeof startModbus>> | undefined;
    if (run.has('ingest')) {
      // Without the broker here: a persistent session, so what the broker delivered but ingest
      // had not stored comes again.
      const ingestMqtt = localBus ? undefined : await connect('ingest', false, true);
      const rulesHere = engine;
      ingest = createIngest({
        store: series!.writes, devices, log, metrics, clock,
        bus: localBus ?? ingestMqtt!,
        ...(ingestMqtt ? { mqtt: ingestMqtt } : {}),
        ...(rulesHere ? { observe: (obs) => rulesHere.observe(obs) } : {}),
        // the duplicate check by seq survives a restart: warmed from the readings stored (embedded store)
        ...(config.STORE === 'embedded' && local ? { sequenced: local } : {}),
      });
    }
    if (engine) {
      // before ingest: the engine's replay of stored-but-unevaluated readings comes first
      await engine.start();
      const started = engine;
      stops.push(() => started.stop());
    }
    if (ingest) {
      const started = ingest;
      await started.start();
      // stopped before the engine and the broker: takes no more, and drains what it took
      stops.push(() => started.stop());
      // Modbus PLCs and RTUs: polled values take the same path as MQTT readings.
      if (config.MODBUS || config.SIM) {
        modbus = await startModbus({
          file: config.MODBUS_FILE,
          stations,
          accept: started.sink,
          ...(config.SIM ? { sim: { scenario: config.SIM_SCENARIO, speed: config.SIM_SPEED } } : {}),
          log,
          metrics,
          clock,
        });
        stops.push(() => modbus!.stop());
      }
    }
    let operator: OperatorActions | undefined;
    let vessels: VesselServices | undefined;
    if (local) {
      const rulesMqtt = rulesBus!;
      operator = engine!.operator;
      // Vessels: AIS/VMS ingest and geofence rules, beside the state their rules keep (with the
      // ingest account: a clean session, so nothing queued arrives before its handler).
      vessels = await startVessels({
        ingestMqtt: await connect('ingest', true, false, '-vessels'),
        rulesMqtt,
        state: local,
        tracksFile: join(dataDir, 'vessels.duckdb'),
        // the fisheries dashboard reads positions from InfluxDB (store/influx-vessels.ts)
        ...(config.STORE === 'influx' ? { influxCopy: { url: config.INFLUX_URL!, token: config.INFLUX_TOKEN, org: config.INFLUX_ORG, bucket: config.INFLUX_BUCKET } } : {}),
        vesselsFile: config.VESSELS_FILE,
        log,
        metrics,
        clock,
      });
      stops.push(() => vessels!.stop());
    }
    // the vessel register: VMS trackers are registered against it (loaded when first needed)
    let register: VesselRegistry | undefined;
    const vesselRegister = () => (register ??= vessels?.registry ?? loadVesselRegister(config.VESSELS_FILE));
    // the device registry lives with the state database; each change is announced to the broker,
    // which cuts the device's session (broker/auth-revocation.ts), over the bus or the wire alike
    const deviceAdmin = local
      ? createDeviceAdmin({
        state: local, stations, vessels: vesselRegister, log, clock,
        onChange: async (id) => void (await rulesBus!.publishAsync(deviceChangedTopic(id), '', { qos: 1 })),
      })
      : undefined;
    let httpUrl: string | undefined;
    if (run.has('api')) {
      const state = shared!;
      const feed = createAlertFeed({ mqtt: await busFor('api'), state, log });
      // Delivery channels listen to the feed: they must be subscribed before it starts.
      const deliveryMetrics = createDeliveryMetrics(metrics, clock);
      feed.subscribe((item) => deliveryMetrics.delivered('mqtt', item.event));
      const webhooks = createWebhookDelivery({
        endpoints: config.WEBHOOKS_FILE ? loadWebhookEndpoints(config.WEBHOOKS_FILE) : [],
        source: feed,
        state,
        log,
        metrics: deliveryMetrics,
        clock,
      });
      await webhooks.start();
      stops.push(() => webhooks.stop());
      const vapid = await loadOrCreateVapidKeys({ env: process.env, dataDir, production: config.HUEWATCH_ENV === 'production' });
      const push = createWebPushDelivery({ vapid, source: feed, state, log, metrics: deliveryMetrics, clock });
      await push.start();
      stops.push(() => push.stop());
      // Manual alerts travel the alerts path, which only the rules account may publish on.
      const manualMqtt = await busFor('rules', '-manual');
      const publishManualAlert = createManualAlertPublisher({ mqtt: manualMqtt, state });
      await feed.start();
      stops.push(() => feed.stop());
      // devices' online/offline from their retained status and last wills (api/device-status.ts)
      const deviceStatus = createDeviceStatus({ mqtt: await busFor('api', '-status'), state, log, clock });
      await deviceStatus.start();
      stops.push(() => deviceStatus.stop());
      const app = await buildApi({
        store: series!.reads,
        state,
        stations,
        feed,
        deviceStatus,
        metrics,
        log,
        clock,
        tokens: [
          { name: 'admin', role: 'admin', sha256: sha256Hex(secrets.adminToken) },
          { name: 'operator', role: 'operator', sha256: sha256Hex(secrets.operatorToken) },
          { name: 'viewer', role: 'viewer', sha256: sha256Hex(secrets.viewerToken) },
        ],
        ...(remote
          ? { operator: remote.operator, vessels: remote.vessels, declareStorm: remote.declareStorm }
          : { operator: operator!, ...(vessels ? { vessels: vessels.query, declareStorm: vessels.declareStorm } : {}) }),
        push,
        publishManualAlert,
        deliveryMetrics,
        // Modbus runs with ingest: an API without ingest in its process has no register writes
        ...(modbus ? { modbus: { writeRegister: modbus.poller.writeRegister, stationHealth: modbus.poller.stationHealth } } : {}),
        degraded: () => series!.problems(),
        cap: { ...DEFAULT_CAP_OPTIONS, ...(config.CAP_SENDER ? { sender: config.CAP_SENDER } : {}), baseUrl: config.PUBLIC_BASE_URL ?? `http://${config.HOST}:${config.HTTP_PORT}` },
        console: config.CONSOLE_TILE_URL ? { tileUrl: config.CONSOLE_TILE_URL } : {},
        serviceTokens: [sha256Hex(secrets.serviceToken)],
        rules: () => rules.rules,
        devices: remote?.devices ?? deviceAdmin!,
      });
      await app.listen({ host: config.HOST, port: config.HTTP_PORT });
      stops.push(() => app.close());
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT;
      httpUrl = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
    }

    if (config.NODERED) {
      // The committed flows (flows/) fan alerts out to SMS and e-mail. Their `${VAR}`s are handed
      // over here (Node-RED's global environment, flows/run.ts), not through process.env: this
      // broker, Node-RED's service account, the gateways; the optional tokens and recipient as set.
      const nodered = await startNodeRed({
        userDir: join(dataDir, 'nodered'),
        log,
        settings: {
          SMS_GATEWAY_TOKEN: process.env.SMS_GATEWAY_TOKEN,
          EMAIL_API_TOKEN: process.env.EMAIL_API_TOKEN,
          EMAIL_TO: process.env.EMAIL_TO,
          MQTT_URL: mqttUrl,
          MQTT_USER: 'svc-nodered',
          MQTT_PASSWORD: secrets.services.nodered,
          SMS_GATEWAY_URL: config.SMS_GATEWAY_URL,
          EMAIL_API_URL: config.EMAIL_API_URL,
        },
      });
      stops.push(() => nodered.stop());
    }

    if (config.SIM && run.has('broker') && local) {
      const store = local;
      // Simulated devices are registered like real ones, with their secrets kept in the data dir:
      // the stations' sensors, and the fishing fleet's AIS receiver and VMS trackers.
      // every station of the catalogue reports (none stays grey on the console): over MQTT, but
      // for the reservoirs whose dam PLC the Modbus simulator answers (platform/modbus.ts)
      const onModbus = new Set(modbus?.simulatedStations ?? []);
      const simStations = stations.filter((s) => !onModbus.has(s.id));
      const fleetVessels = vesselRegister().vessels;
      const simDevices = [
        ...simStations.map((s) => ({ id: simDeviceId(s.id), target: s.id })),
        ...simFleetDevices(fleetVessels).map((d) => ({ id: d.id, target: d.vessel ? vesselTarget(d.vessel) : AIS_RECEIVER })),
      ];
      // a simulated id an operator took over is skipped, not taken back (platform/devices.ts)
      const { secrets: running, hashes, skipped } = await simDeviceCredentials(deviceAdmin!, store, simDevices.map((d) => ({ id: d.id, target: d.target })), { secrets: secrets.simDevices, hashes: secrets.simDeviceHashes }, log);
      secrets.simDevices = { ...secrets.simDevices, ...running };
      secrets.simDeviceHashes = { ...secrets.simDeviceHashes, ...hashes };
      await saveSecrets(dataDir, secrets);
      const sim = await startSimulator({
        url: mqttUrl,
        devices: simStations.filter((s) => running[simDeviceId(s.id)]).map((s) => ({ deviceId: simDeviceId(s.id), secret: running[simDeviceId(s.id)]!, station: s })),
        scenario: config.SIM_SCENARIO,
        intervalMs: config.SIM_INTERVAL_MS,
        speed: config.SIM_SPEED,
        log,
        clock,
        ...(config.SIM_FAULTS ? { faults: config.SIM_FAULTS } : {}),
      });
      stops.push(() => sim.stop());

      // without its shore receiver the fleet cannot sail; a vessel whose tracker was taken over sails on AIS alone
      if (running[SIM_AIS_RECEIVER]) {
        const fleet = await startVesselFleet({
          url: mqttUrl,
          receiverId: SIM_AIS_RECEIVER,
          secretOf: (id) => running[id]!,
          vessels: fleetVessels.map((v) => (skipped.includes(v.id) ? { ...v, vms: false } : v)),
          ports: loadSeaZones(DEFAULT_SEA_ZONES_FILE).ports,
          intervalMs: config.SIM_INTERVAL_MS,
          speed: config.SIM_SPEED,
          log,
          clock,
        });
        stops.push(() => fleet.stop());
      }
    }

    let opsUrl: string | undefined;
    if (!run.has('api')) {
      // Last, so that a healthy answer means every service of this process is up.
      const ops = await startOpsServer({
        host: config.HOST,
        port: config.OPS_PORT,
        log,
        metrics,
        services: config.SERVICES,
        problems: () => clients.filter((c) => !c.connected).map((c) => `MQTT ${c.options.clientId} is not connected`),
        degraded: () => series?.problems() ?? [],
        ...(local ? { routes: (app) => rulesOpsRoutes(app, { token: secrets.serviceToken, state: local, operator: operator!, ...(vessels ? { vessels } : {}), devices: deviceAdmin! }) } : {}),
      });
      stops.push(() => ops.close());
      opsUrl = ops.url;
    }

    return { mqttUrl, ...(mqttPort === undefined ? {} : { mqttPort }), ...(wsPort === undefined ? {} : { wsPort }), ...(httpUrl ? { httpUrl } : {}), ...(opsUrl ? { opsUrl } : {}), adminToken: secrets.adminToken, operatorToken: secrets.operatorToken, viewerToken: secrets.viewerToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
