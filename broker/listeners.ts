import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Aedes, Client } from 'aedes';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../contract/errors.ts';
import type { AckOrder } from './ack-order.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { TellDevice } from './device-errors.ts';
import { guardReads } from './frame-guard.ts';
import { mqttStreamOf } from './ws-stream.ts';

export interface ListenerOptions {
  aedes: Aedes;
  host?: string | undefined;
  /** 0 = ephemeral */
  port: number;
  /** MQTT over WebSocket on path /mqtt; 0 = ephemeral; absent = no WebSocket listener */
  wsPort?: number | undefined;
  /** the hard ceiling of TCP connections */
  maxConnections: number;
  /** the largest whole packet taken (payload limit and room for the topic and packet id) */
  frameLimit: number;
  refuse: BrokerMetrics['refuse'];
  tellDevice: TellDevice;
  acks: AckOrder;
}

/** The broker's TCP and WebSocket listeners; each connection's reads pass the frame guard first. */
export function createListeners(opts: ListenerOptions): { readonly listening: boolean; start(): Promise<{ mqttPort: number; wsPort: number | undefined }>; stop(): Promise<void> } {
  const { aedes, frameLimit } = opts;
  let tcp: NetServer | undefined;
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;

  function handle(stream: Parameters<Aedes['handle']>[0], req?: Parameters<Aedes['handle']>[1]): void {
    let client: Client | null = null;
    guardReads(stream, frameLimit, (length) => opts.refuse(client, 'payload_too_large', { packetBytes: length }), (dropped) => {
      // cut out before it was buffered (frame-guard.ts): acknowledged here, so the device moves on
      const id = dropped.packetId;
      if (id !== undefined) {
        const answer = Buffer.from([dropped.qos === 1 ? 0x40 : 0x50, 2, id >> 8, id & 0xff]);
        const before = client && opts.acks.tail(client);
        if (before) void before.then(() => stream.write(answer));
        else stream.write(answer);
      }
      opts.tellDevice(client, ErrorCode.PAYLOAD_TOO_LARGE, `packet of ${dropped.length} bytes is over the limit of ${frameLimit}`, dropped.topic);
    });
    client = aedes.handle(stream, req);
  }

  async function listen(server: NetServer | HttpServer, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  return {
    get listening() {
      return tcp !== undefined;
    },
    async start() {
      tcp = createNetServer((sock) => {
        sock.setNoDelay(true); // Nagle adds ~20 ms per hop on small packets (FACTS.md)
        handle(sock);
      });
      tcp.maxConnections = opts.maxConnections;
      const mqttPort = await listen(tcp, opts.port);

      let wsPort: number | undefined;
      if (opts.wsPort !== undefined) {
        http = createHttpServer((_req, res) => res.writeHead(426, { connection: 'close' }).end());
        // ws refuses (close 1009) a single message past the frame limit before buffering more
        wss = new WebSocketServer({ server: http, path: '/mqtt', maxPayload: frameLimit + 16 });
        wss.on('connection', (ws, req) => {
          req.socket.setNoDelay(true);
          handle(mqttStreamOf(ws), req);
        });
        wsPort = await listen(http, opts.wsPort);
      }
      return { mqttPort, wsPort };
    },
    async stop() {
      const closing = [tcp, http].filter((s): s is NetServer | HttpServer => s !== undefined).map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      );
      wss?.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      http?.closeAllConnections();
      await Promise.all(closing);
      tcp = http = wss = undefined;
    },
  };
}
