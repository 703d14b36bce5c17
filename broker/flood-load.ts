import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Load generator for the flood test (FACTS.md: aedes 1.2 crashed in mqemitter when a subscriber
 * left during a QoS 0 flood). Raw sockets with hand-encoded MQTT 3.1.1 packets, so the generator
 * costs next to nothing and the broker's own behaviour is what gets measured. Every loop here is
 * bounded by a count and a deadline.
 */

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function frame(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/** CONNECT, MQTT 3.1.1 (protocol level 4), clean session [MQTT-3.1.2-4]. */
export function encodeConnect(clientId: string, username?: string, password?: string, keepalive = 30): Buffer {
  let flags = 0x02;
  if (username !== undefined) flags |= 0x80;
  if (password !== undefined) flags |= 0x40;
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(keepalive);
  const parts = [str('MQTT'), Buffer.from([4, flags]), ka, str(clientId)];
  if (username !== undefined) parts.push(str(username));
  if (password !== undefined) parts.push(str(password));
  return frame(0x10, Buffer.concat(parts));
}

export function encodePublishQos0(topic: string, payload: Buffer): Buffer {
  return frame(0x30, Buffer.concat([str(topic), payload]));
}

export function encodeSubscribe(messageId: number, filter: string, qos: 0 | 1 = 0): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return frame(0x82, Buffer.concat([id, str(filter), Buffer.from([qos])])); // [MQTT-3.8.1-1] flags 0010
}

/** Waits for 'drain' or 'close' (or the timeout), removing its listeners either way. */
export function drainOrClose(sock: Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done);
      sock.off('close', done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    sock.on('drain', done);
    sock.on('close', done);
  });
}

async function open(port: number, host: string, connectPacket: Buffer): Promise<Socket> {
  const sock = connect({ port, host, noDelay: true });
  sock.on('error', () => {}); // the broker may drop us; the scenario only counts what happens
  await once(sock, 'connect');
  sock.write(connectPacket);
  return sock;
}

export interface FloodOptions {
  port: number;
  host?: string;
  /** one entry per flooding publisher */
  publishers: Array<{ clientId: string; username?: string; password?: string; topic: string }>;
  /** the subscriber that comes and goes; it never reads, so the broker's queue backs up */
  victim: { clientIdPrefix?: string; username?: string; password?: string; filter: string };
  messagesPerPublisher: number;
  payloadBytes: number;
  victimCycles: number;
  victimStayMs: number;
  deadlineMs: number;
}

export interface FloodResult {
  written: number;
  victimCycles: number;
  elapsedMs: number;
}

export async function runFlood(o: FloodOptions): Promise<FloodResult> {
  const host = o.host ?? '127.0.0.1';
  const started = Date.now();
  const deadline = started + o.deadlineMs;
  const payload = Buffer.alloc(o.payloadBytes, 0x61);
  let written = 0;
  let cycles = 0;
  let flooding = true;

  const publishers = await Promise.all(
    o.publishers.map((p) => open(o.port, host, encodeConnect(p.clientId, p.username, p.password))),
  );
  await sleep(100); // let CONNACKs go out before the flood

  const flood = publishers.map(async (sock, i) => {
    const pub = o.publishers[i]!;
    // 256 packets per write: a socket read on the broker side then carries hundreds of PUBLISHes
    const batch = Buffer.concat(Array.from({ length: 256 }, () => encodePublishQos0(pub.topic, payload)));
    let sent = 0;
    while (flooding && sent < o.messagesPerPublisher && Date.now() < deadline && !sock.destroyed) {
      const ok = sock.write(batch);
      sent += 256;
      written += 256;
      if (!ok) await drainOrClose(sock, 200);
      else await new Promise((r) => setImmediate(r)); // let the other sockets and the victim run
    }
  });

  const victim = (async () => {
    for (let c = 0; c < o.victimCycles && Date.now() < deadline && flooding; c++) {
      const sock = await open(o.port, host, encodeConnect(`${o.victim.clientIdPrefix ?? 'victim'}-${c}`, o.victim.username, o.victim.password));
      sock.pause(); // never read: the broker's writes to us back up and its queue grows
      sock.write(encodeSubscribe(1, o.victim.filter));
      await sleep(o.victimStayMs);
      sock.destroy(); // leave in the middle of the flood
      cycles++;
      await sleep(20);
    }
  })();

  await victim;
  flooding = false;
  await Promise.all(flood);
  for (const s of publishers) s.destroy();
  return { written, victimCycles: cycles, elapsedMs: Date.now() - started };
}
