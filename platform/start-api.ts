import { createAlertFeed } from '../api/alert-feed.ts';
import { sha256Hex } from '../api/auth.ts';
import { createDeviceStatus } from '../api/device-status.ts';
import { buildApi } from '../api/server.ts';
import type { Station } from '../contract/station.ts';
import { DEFAULT_CAP_OPTIONS } from '../delivery/cap.ts';
import { createManualAlertPublisher } from '../delivery/manual-alerts.ts';
import { createDeliveryMetrics } from '../delivery/metrics.ts';
import { createWebhookDelivery, loadWebhookEndpoints } from '../delivery/webhooks.ts';
import { createWebPushDelivery, loadOrCreateVapidKeys } from '../delivery/webpush.ts';
import type { RuleSet } from '../rules/schema.ts';
import type { ServiceClients } from './start-broker.ts';
import type { StartContext } from './start-context.ts';
import type { Pipeline } from './start-pipeline.ts';
import type { Stores } from './start-stores.ts';

/** The HTTP API and the delivery channels behind its alert feed (webhooks, Web Push); returns its URL. */
export async function startApi(
  c: StartContext, stores: Stores, bus: ServiceClients, pipeline: Pipeline,
  catalogue: { stations: readonly Station[]; rules: RuleSet },
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
  const vapid = await loadOrCreateVapidKeys({ env: process.env, dataDir: c.dataDir, production: config.HUEWATCH_ENV === 'production' });
  const push = createWebPushDelivery({ vapid, source: feed, state, log, metrics: deliveryMetrics, clock });
  await push.start();
  c.onStop(() => push.stop());
  // Manual alerts travel the alerts path, which only the rules account may publish on.
  const manualMqtt = await bus.busFor('rules', '-manual');
  const publishManualAlert = createManualAlertPublisher({ mqtt: manualMqtt, state });
  await feed.start();
  c.onStop(() => feed.stop());
  // devices' online/offline from their retained status and last wills (api/device-status.ts)
  const deviceStatus = createDeviceStatus({ mqtt: await bus.busFor('api', '-status'), state, log, clock });
  await deviceStatus.start();
  c.onStop(() => deviceStatus.stop());
  const app = await buildApi({
    store: series!.reads,
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
    rules: () => catalogue.rules.rules,
    devices: remote?.devices ?? deviceAdmin!,
  });
  await app.listen({ host: config.HOST, port: config.HTTP_PORT });
  c.onStop(() => app.close());
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT;
  return `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
}
