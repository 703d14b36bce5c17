import mqtt, { type MqttClient } from 'mqtt';
import { SERVICE_NAMES } from '../broker/acl.ts';
import { createLocalBus } from '../broker/local-bus.ts';
import { hashSecret } from '../broker/secrets.ts';
import { createBrokerServer } from '../broker/server.ts';
import { TlsFileError } from '../broker/tls.ts';
import { createBrokerState } from '../broker/persistence.ts';
import type { Bus } from '../contract/bus.ts';
import type { Ingest } from '../ingest/ingest.ts';
import { ConfigError } from './config.ts';
import type { StartContext } from './start-context.ts';
import type { Stores } from './start-stores.ts';

export type LocalBus = Bus & { close(): Promise<void> };

/**
 * The broker, when this process runs it, and its in-process bus; else the MQTT_URL of the broker
 * elsewhere. `ingestOf`: ingest once it exists, which takes devices' telemetry before the PUBACK.
 */
export async function startBroker(c: StartContext, devices: Stores['devices'], ingestOf: () => Ingest | undefined) {
  const { config, run, secrets } = c;
  let mqttUrl = config.MQTT_URL ?? '';
  let mqttPort: number | undefined;
  let wsPort: number | undefined;
  let mqttsPort: number | undefined;
  let wssPort: number | undefined;
  let localBus: LocalBus | undefined;
  if (run.has('broker')) {
    const broker = createBrokerServer({
      log: c.log,
      metrics: c.metrics,
      devices,
      services: await Promise.all(SERVICE_NAMES.map(async (name) => ({ name, secretHash: await hashSecret(secrets.services[name]) }))),
      allowAnonymousResidents: config.MQTT_ALLOW_ANONYMOUS,
      conformance: config.MQTT_CONFORMANCE,
      maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
      deviceQuota: { msgsPerS: config.DEVICE_MAX_MSGS_PER_S, msgsBurst: config.DEVICE_MSGS_BURST, bytesPerS: config.DEVICE_MAX_BYTES_PER_S, bytesBurst: config.DEVICE_BYTES_BURST },
      host: config.MQTT_PLAIN_HOST ?? config.HOST,
      port: config.MQTT_PORT,
      wsPort: config.MQTT_WS_PORT,
      ...(config.TLS_CERT_FILE && config.TLS_KEY_FILE
        ? { tls: { files: { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE, caFile: config.TLS_CA_FILE }, port: config.MQTT_TLS_PORT, wssPort: config.MQTT_WSS_PORT, host: config.HOST } }
        : {}),
      // retained messages, sessions and QoS 1 queues outlive the process: in Redis, shared with
      // the other brokers, or on disk (broker/persistence.ts)
      state: createBrokerState(config.REDIS_URL ? { redisUrl: config.REDIS_URL } : { dataDir: c.dataDir }),
      heartbeatIntervalMs: config.BROKER_HEARTBEAT_MS,
      // the PUBACK of a device's telemetry waits for ingest's group commit (ingest/ingest.ts)
      // (before ingest exists, a moment at start, a publish is refused: no PUBACK, the device resends)
      ...(run.has('ingest') ? { ingress: (deviceId: string, payload: Buffer, topic: string) => { const ingest = ingestOf(); return ingest ? ingest.accept(deviceId, payload, topic) : Promise.reject(new Error('ingest is starting')); } } : {}),
    });
    try {
      ({ mqttPort, wsPort, mqttsPort, wssPort } = await broker.start());
    } catch (err) {
      throw err instanceof TlsFileError ? new ConfigError([err.message]) : err; // a bad certificate file is a configuration mistake (exit 2)
    }
    c.onStop(() => broker.stop());
    if (mqttsPort !== undefined) {
      // a renewed certificate (certbot, an operator) is taken on SIGHUP; open sessions keep theirs
      const reload = () => {
        broker.reloadTls().then(
          () => c.log.info({ certFile: config.TLS_CERT_FILE }, 'SIGHUP: TLS certificate reloaded'),
          (err: unknown) => c.log.error({ err: (err as Error).message }, 'SIGHUP: TLS certificate NOT reloaded, the old one stays'),
        );
      };
      process.on('SIGHUP', reload);
      c.onStop(async () => {
        process.off('SIGHUP', reload);
      });
    }
    const bus = createLocalBus(broker.aedes);
    localBus = bus;
    c.onStop(() => bus.close());
    const plainHost = config.MQTT_PLAIN_HOST ?? config.HOST;
    mqttUrl = `mqtt://${plainHost === '0.0.0.0' || plainHost === '::' ? '127.0.0.1' : plainHost}:${mqttPort}`;
  }
  if (!mqttUrl) throw new ConfigError(['MQTT_URL is unset: required when this process does not run the broker']);
  return { mqttUrl, mqttPort, wsPort, mqttsPort, wssPort, localBus };
}

/**
 * The services' ways onto the bus: the broker's in-process bus when it runs here (DESIGN.md "The
 * flow"), else an MQTT connection of the service's account.
 */
export function serviceClients(c: StartContext, mqttUrl: string, localBus: LocalBus | undefined) {
  const services = c.secrets.services;
  const clients: MqttClient[] = [];
  // manualConnect: the caller connects in its start(), after installing its message handler: a
  // resumed persistent session delivers queued messages right after CONNACK, and MQTT.js acks
  // whatever arrives before handleMessage is set
  const connect = async (service: keyof typeof services, clean = true, manualConnect = false, role = ''): Promise<MqttClient> => {
    const opts = { username: `svc-${service}`, password: services[service], clientId: `svc-${service}${role}`, clean, reconnectPeriod: 1000 };
    const client = manualConnect ? mqtt.connect(mqttUrl, { ...opts, manualConnect }) : await mqtt.connectAsync(mqttUrl, opts);
    clients.push(client);
    c.onStop(() => client.endAsync());
    return client;
  };
  const busFor = async (service: keyof typeof services, role = ''): Promise<Bus> => localBus ?? connect(service, true, false, role);
  return { clients, connect, busFor, localBus };
}
export type ServiceClients = ReturnType<typeof serviceClients>;
