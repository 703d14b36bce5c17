import { createAlertFeed } from '../api/alert-feed.ts';
import { sha256Hex } from '../api/auth.ts';
import { createDeviceStatus } from '../api/device-status.ts';
import { buildApi } from '../api/server.ts';
import { createStaMqttPublisher } from '../api/sta/mqtt.ts';
import { STA_PREFIX } from '../api/sta/routes.ts';
import type { Station } from '../contract/station.ts';
import { DEFAULT_CAP_OPTIONS } from '../delivery/cap.ts';
import { createManualAlertPublisher } from '../delivery/manual-alerts.ts';
import { createDeliveryMetrics } from '../delivery/metrics.ts';
import { createWebhookDelivery, loadWebhookEndpoints } from '../delivery/webhooks.ts';
import { createWebPushDelivery, loadOrCreateVapidKeys } from '../delivery/webpush.ts';
import { residentAreas } from '../lib/resident-areas.ts';
import type { RuleSet } from '../rules/schema.ts';
import type { ServiceClients } from './start-broker.ts';
import type { StartContext } from './start-context.ts';
import type { Pipeline } from './start-pipeline.ts';
import type { Stores } from './start-stores.ts';
import { createAccounts } from '../store/accounts.ts';
import { createLoginGuard } from '../lib/login-guard.ts';
import { defaultLoginLimits } from '../api/server.ts';
import { accountAudit } from './accounts.ts';
import { createOperatorPush } from '../delivery/operator-push.ts';
import { createSosDesk } from '../api/sos/desk.ts';
import { loadRescueUnits } from '../api/sos/units.ts';
import { createSosLimits } from '../api/sos/limits.ts';
import { createSosMqtt } from '../api/sos/mqtt.ts';

/** The HTTP API and the delivery channels behind its alert feed (webhooks, Web Push); returns its URL. */
export async function startApi(
  c: StartContext, stores: Stores, bus: ServiceClients, pipeline: Pipeline,
  catalogue: { stations: readonly Station[]; rules: RuleSet },
  /** the broker's ports when it runs in this process: SensorThings lists them as its MQTT endpoints */
  staMqtt?: { port?: number; wsPort?: number },
): Promise<string> {
  const { config, secrets, log, metrics, clock } = c;
  const { remote, series } = stores;
  const { modbus, operator, vessels, deviceAdmin } = pipeline;
  const state = stores.shared!;
  const feed = createAlertFeed({ mqtt: await bus.busFor('api'), state, log });
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
  c.onStop(() => webhooks.stop());
  // people's accounts and console sessions live in the state store, audited as device changes are
  const accounts = createAccounts({
    state,
    clock,
    sessionTtlMs: config.SESSION_TTL_HOURS * 3600_000,
    audit: accountAudit(state, log, clock),
  });
  const vapid = await loadOrCreateVapidKeys({ env: process.env, dataDir: c.dataDir, production: config.HUEWATCH_ENV === 'production' });
  const push = createWebPushDelivery({ vapid, source: feed, state, log, metrics: deliveryMetrics, clock, areas: residentAreas(catalogue.stations) });
  await push.start();
  c.onStop(() => push.stop());
  // operators' browsers: the alerts each account's preferences choose for Web Push (delivery/operator-push.ts)
  const operatorPush = createOperatorPush({ vapid, source: feed, accounts, state, log, metrics: deliveryMetrics, clock });
  await operatorPush.start();
  c.onStop(() => operatorPush.stop());
  // Manual alerts travel the alerts path, which only the rules account may publish on.
  const manualMqtt = await bus.busFor('rules', '-manual');
  const publishManualAlert = createManualAlertPublisher({ mqtt: manualMqtt, state });
  await feed.start();
  c.onStop(() => feed.stop());
  // devices' online/offline from their retained status and last wills (api/device-status.ts)
  const deviceStatus = createDeviceStatus({ mqtt: await bus.busFor('api', '-status'), state, log, clock });
  await deviceStatus.start();
  c.onStop(() => deviceStatus.stop());
  // residents' SOS calls, in the state store; personal data deleted SOS_RETENTION_DAYS after closing
  const sos = createSosDesk({ state, stations: catalogue.stations, units: loadRescueUnits(config.RESCUE_UNITS_FILE), retentionMs: config.SOS_RETENTION_DAYS * 86_400_000, clock, log: log.child({ module: 'sos' }) });
  await sos.start();
  c.onStop(async () => sos.stop());
  // one set of SOS rate limits for HTTP and MQTT; registered apps send SOS over MQTT (api/sos/mqtt.ts)
  const sosLimits = createSosLimits();
  const sosMqtt = createSosMqtt({ bus: await bus.busFor('api', '-sos'), desk: sos, limits: sosLimits, metrics, log, clock });
  await sosMqtt.start();
  c.onStop(() => sosMqtt.stop());
  const loginGuard = createLoginGuard({ ...defaultLoginLimits(config.LOGIN_MAX_FAILURES), surface: 'http', metrics, log });
  const secureSetting = config.SESSION_COOKIE_SECURE;
  const secureCookie = secureSetting === 'auto' ? (config.PUBLIC_BASE_URL?.startsWith('https:') ? true : 'auto') : secureSetting === '1' || secureSetting === 'true';
  const app = await buildApi({
    accounts,
    operatorPush,
    sos,
    sosLimits,
    loginGuard,
    secureCookie,
    store: series!.reads,
    ...(staMqtt ? { staMqtt } : {}),
    state,
    stations: catalogue.stations,
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
    recipientsTokens: [sha256Hex(secrets.noderedToken)],
    rules: () => catalogue.rules.rules,
    devices: remote?.devices ?? deviceAdmin!,
  });
  await app.listen({ host: config.HOST, port: config.HTTP_PORT });
  c.onStop(() => app.close());
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  // SensorThings' MQTT extension: stored observations again as STA Observations on v1.1/… (api/sta/mqtt.ts)
  const sta = createStaMqttPublisher({ bus: await bus.busFor('api', '-sta'), stations: catalogue.stations, store: series!.reads, metrics, base: `${config.PUBLIC_BASE_URL?.replace(/\/$/, '') ?? url}${STA_PREFIX}`, log });
  await sta.start();
  c.onStop(() => sta.stop());
  return url;
}
