import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * Test support: MQTT 3.1.1 over a bare net.Socket, packets built with mqtt-packet (or given as
 * bytes, for what mqtt-packet will not build: ill-formed UTF-8, U+0000). What a client library
 * hides is visible here: the DUP flag, session present, a connection closed without an answer.
 */
export interface RawClient {
  readonly socket: Socket;
  /** every packet received so far, in order */
  readonly packets: Packet[];
  send(packet: Packet | Buffer): void;
  /** the next received packet of `cmd` not yet taken, within ms; rejects after */
  next(cmd: Packet['cmd'], ms?: number): Promise<Packet>;
  /** true once the broker has closed the connection (within ms), else false */
  closed(ms?: number): Promise<boolean>;
  /** destroys the socket: an abnormal end, as a lost network or a crashed device */
  drop(): void;
}

export function rawConnect(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets: Packet[] = [];
    const taken = new Set<Packet>();
    const waiters = new Set<() => void>();
    let isClosed = false;
    const wake = () => { for (const w of [...waiters]) w(); };
    parser.on('packet', (p: Packet) => { packets.push(p); wake(); });
    parser.on('error', () => socket.destroy());
    socket.on('data', (b) => parser.parse(b));
    socket.on('close', () => { isClosed = true; wake(); });
    socket.on('error', () => undefined);
    const waitUntil = <T>(check: () => T | undefined, ms: number, what: string) =>
      new Promise<T>((res, rej) => {
        const attempt = () => {
          const v = check();
          if (v === undefined) return false;
          waiters.delete(attempt);
          clearTimeout(timer);
          res(v);
          return true;
        };
        const timer = setTimeout(() => { waiters.delete(attempt); rej(new Error(`${what} within ${ms} ms; received: ${packets.map((p) => p.cmd).join(', ')}`)); }, ms);
        if (!attempt()) waiters.add(attempt);
      });
    socket.once('connect', () => {
      socket.setNoDelay(true);
      resolve({
        socket,
        packets,
        send: (p) => { socket.write(Buffer.isBuffer(p) ? p : mqttPacket.generate(p)); },
        next: (cmd, ms = 10_000) =>
          waitUntil(() => {
            const p = packets.find((x) => x.cmd === cmd && !taken.has(x));
            if (p) taken.add(p);
            return p;
          }, ms, `no ${cmd}`),
        closed: (ms = 10_000) => waitUntil(() => (isClosed ? true : undefined), ms, 'not closed').catch(() => false),
        drop: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

/** a CONNECT of MQTT 3.1.1 */
export function connectPacket(clientId: string, o: { clean?: boolean; username?: string; password?: string; keepalive?: number; will?: { topic: string; payload: Buffer | string; qos?: 0 | 1 | 2; retain?: boolean } } = {}): Packet {
  return {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: o.clean ?? true, keepalive: o.keepalive ?? 60,
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: Buffer.from(o.password) } : {}),
    ...(o.will ? { will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: o.will.qos ?? 0, retain: o.will.retain ?? false } } : {}),
  } as Packet;
}

/**
 * A packet with one string's bytes swapped for others (ill-formed UTF-8, U+0000), which
 * mqtt-packet will not encode: built with a placeholder of the same length, then patched.
 */
export function withStringBytes(packet: Packet, placeholder: string, bytes: Buffer): Buffer {
  const buf = Buffer.from(mqttPacket.generate(packet));
  const ph = Buffer.from(placeholder);
  if (ph.length !== bytes.length) throw new Error('placeholder and bytes must have the same length');
  const at = buf.indexOf(ph);
  if (at < 0) throw new Error(`placeholder ${placeholder} not in the packet`);
  bytes.copy(buf, at);
  return buf;
}
