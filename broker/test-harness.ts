import { Registry } from 'prom-client';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { silentLogger } from '../lib/log.ts';
import type { DeviceRecord } from '../store/types.ts';
import type { ServiceName } from './acl.ts';
import { createBrokerServer, type BrokerServer, type BrokerServerOptions } from './server.ts';
import { hashSecret } from './secrets.ts';

/** Test support: a real broker on ephemeral ports with an in-memory device registry. */
export interface Harness {
  broker: BrokerServer;
  /** every listener's port (mqtts and wss too when `tls` was given) */
  ports: Awaited<ReturnType<BrokerServer['start']>>;
  metrics: Registry;
  mqttUrl: string;
  wsUrl: string;
  secrets: Map<string, string>;
  devices: Map<string, DeviceRecord>;
  connect(opts: IClientOptions, url?: string): Promise<MqttClient>;
  device(id: string, opts?: IClientOptions): Promise<MqttClient>;
  service(name: ServiceName, suffix: string, opts?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startHarness(deviceIds: string[], extra: Partial<BrokerServerOptions> = {}): Promise<Harness> {
  const secrets = new Map<string, string>();
  const devices = new Map<string, DeviceRecord>();
  await Promise.all(
    deviceIds.map(async (id) => {
      const secret = `secret-${id}`;
      secrets.set(id, secret);
      devices.set(id, { deviceId: id, station: id, secretHash: await hashSecret(secret), createdAt: 0, disabled: false });
    }),
  );
  const names: ServiceName[] = ['ingest', 'rules', 'api', 'nodered'];
  const services = await Promise.all(names.map(async (name) => ({ name, secretHash: await hashSecret(`svc-secret-${name}`) })));
  const metrics = new Registry();
  const broker = createBrokerServer({
    log: silentLogger(),
    metrics,
    devices: { getDevice: async (id) => devices.get(id) },
    services,
    allowAnonymousResidents: true,
    host: '127.0.0.1',
    port: 0,
    wsPort: 0,
    ...extra,
  });
  const ports = await broker.start();
  const { mqttPort, wsPort } = ports;
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  const wsUrl = `ws://127.0.0.1:${wsPort}/mqtt`;
  const clients: MqttClient[] = [];
  const connect = async (opts: IClientOptions, url = mqttUrl) => {
    const c = await connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...opts });
    clients.push(c);
    return c;
  };
  return {
    broker,
    ports,
    metrics,
    mqttUrl,
    wsUrl,
    secrets,
    devices,
    connect,
    device: (id, opts = {}) => connect({ clientId: id, username: id, password: secrets.get(id) ?? 'x', ...opts }),
    service: (name, suffix, opts = {}) =>
      connect({ clientId: `svc-${name}-${suffix}`, username: `svc-${name}`, password: `svc-secret-${name}`, ...opts }),
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await broker.stop();
    },
  };
}

/** Polls `check` every 10 ms until it is true or `ms` have passed (bounded: never loops forever). */
export async function waitFor(check: () => boolean, ms = 3_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}
