import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import mqttPacket from 'mqtt-packet';
import { deviceErrorMessage, type DeviceErrorMessage } from '../contract/errors.ts';
import { topics } from '../contract/topics.ts';
import { drainOrClose } from './flood-load.ts';

/**
 * Registered devices flooding their own telemetry topic over raw sockets, as fast as TCP takes
 * it (for test/flood-fairness.e2e.test.ts and bench/flood-fairness.ts). Each flooder logs in as
 * itself, subscribes to its errors topic (as README "Point a real device at it" tells a device
 * to), then writes valid readings without waiting for any PUBACK: QoS 0 single readings or QoS 1
 * store-and-forward arrays; or its status, again and again. Raw sockets cost the generator little, so the broker's behaviour is
 * what gets measured. Every loop is bounded by a message count and a deadline.
 */
export interface Flooder {
  deviceId: string;
  secret: string;
  /** telemetry (readings, handed to ingest) or its status topic (not ingested: nothing paces it but the quota) */
  topic?: 'telemetry' | 'status';
  qos: 0 | 1;
  /** readings per message: 1 sends one reading, more an array (a store-and-forward flush) */
  readingsPerMessage: number;
  /** the reading's metrics, e.g. `{ rainfall: 0 }` */
  metrics: Record<string, number>;
}

export interface FloodStats {
  deviceId: string;
  topic: 'telemetry' | 'status';
  qos: 0 | 1;
  /** PUBLISH packets written to the socket */
  written: number;
  /** PUBACKs received (QoS 1) */
  acked: number;
  /** what the broker said on the device's errors topic */
  errors: DeviceErrorMessage[];
  /** the connection ended before the flood did */
  closedEarly: boolean;
}

export interface DeviceFloodOptions {
  port: number;
  host?: string;
  flooders: Flooder[];
  /** the flood ends after this */
  durationMs: number;
  /** and no flooder writes more than this many messages */
  maxMessagesPerDevice: number;
  /** PUBLISH packets per socket write */
  batch?: number;
}

interface Conn {
  sock: Socket;
  stats: FloodStats;
  packets: mqttPacket.Packet[];
}

async function open(o: DeviceFloodOptions, f: Flooder): Promise<Conn> {
  const sock = connect({ port: o.port, host: o.host ?? '127.0.0.1', noDelay: true });
  sock.on('error', () => undefined); // the broker may drop us; the flood only counts what happens
  const stats: FloodStats = { deviceId: f.deviceId, topic: f.topic ?? 'telemetry', qos: f.qos, written: 0, acked: 0, errors: [], closedEarly: false };
  const conn: Conn = { sock, stats, packets: [] };
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p) => {
    if (p.cmd === 'puback') stats.acked++;
    else if (p.cmd === 'publish' && p.topic === topics.deviceErrors(f.deviceId)) {
      const m = deviceErrorMessage.safeParse(JSON.parse(p.payload.toString()));
      if (m.success) stats.errors.push(m.data);
    } else conn.packets.push(p);
  });
  sock.on('data', (d: Buffer) => parser.parse(d));
  await once(sock, 'connect');
  sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: f.deviceId, username: f.deviceId, password: Buffer.from(f.secret), keepalive: 60 }));
  await until(() => conn.packets.some((p) => p.cmd === 'connack'), 30_000, `${f.deviceId}: CONNACK`);
  const connack = conn.packets.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket;
  if (connack.returnCode !== 0) throw new Error(`${f.deviceId}: CONNACK ${connack.returnCode}`);
  sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.deviceErrors(f.deviceId), qos: 0 }] }));
  await until(() => conn.packets.some((p) => p.cmd === 'suback'), 30_000, `${f.deviceId}: SUBACK`);
  return conn;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Connects every flooder, then floods until the deadline; returns each one's figures. */
export async function runDeviceFlood(o: DeviceFloodOptions): Promise<FloodStats[]> {
  // four logins at a time: the broker lets one address have only a few password checks waiting
  const conns: Conn[] = [];
  for (let i = 0; i < o.flooders.length; i += 4) conns.push(...await Promise.all(o.flooders.slice(i, i + 4).map((f) => open(o, f))));
  const deadline = Date.now() + o.durationMs;
  const batch = o.batch ?? 64;
  let seq = 0;
  await Promise.all(conns.map(async (c, i) => {
    const f = o.flooders[i]!;
    const topic = f.topic === 'status' ? topics.status(f.deviceId) : topics.telemetry(f.deviceId);
    let messageId = 0;
    while (Date.now() < deadline && c.stats.written < o.maxMessagesPerDevice && !c.sock.destroyed) {
      const parts: Buffer[] = [];
      const ts = Date.now();
      for (let k = 0; k < batch && c.stats.written + k < o.maxMessagesPerDevice; k++) {
        const readings = Array.from({ length: f.readingsPerMessage }, () => ({ ts: ts - 1_000, seq: ++seq, m: f.metrics }));
        const payload = Buffer.from(JSON.stringify(f.topic === 'status' ? { online: true, ts } : f.readingsPerMessage === 1 ? readings[0] : readings));
        messageId = (messageId % 65_535) + 1;
        parts.push(mqttPacket.generate(f.qos === 1
          ? { cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false }
          : { cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }));
      }
      c.stats.written += parts.length;
      if (!c.sock.write(Buffer.concat(parts))) await drainOrClose(c.sock, Math.max(1, Math.min(200, deadline - Date.now())));
      else await new Promise((r) => setImmediate(r)); // let the other flooders write
    }
    c.stats.closedEarly = c.sock.destroyed;
  }));
  // a moment for the last error messages and PUBACKs in flight, then hang up
  await new Promise((r) => setTimeout(r, 500));
  for (const c of conns) c.sock.destroy();
  return conns.map((c) => c.stats);
}
