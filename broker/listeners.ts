import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Aedes, Client } from 'aedes';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../contract/errors.ts';
import type { AckOrder } from './ack-order.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { TellDevice } from './device-errors.ts';
import { guardReads } from './frame-guard.ts';
import { mqttStreamOf } from './ws-stream.ts';

/** pending connections the kernel holds for accept (Linux caps it at net.core.somaxconn, 4096 by default); Node's default is 511 */
const LISTEN_BACKLOG = 4096;

export interface ListenerOptions {
  aedes: Aedes;
  host?: string | undefined;
  /** 0 = ephemeral */
  port: number;
  /** MQTT over WebSocket on path /mqtt; 0 = ephemeral; absent = no WebSocket listener */
  wsPort?: number | undefined;
  /**
   * mqtts (and wss on path /mqtt when `wssPort` is set) with this certificate and key; they bind
   * `tlsHost` (default `host`). `host` then binds only the plain listeners: 127.0.0.1 keeps plain
   * MQTT for this machine alone (MQTT_PLAIN_HOST)
   */
  tls?: { context: SecureContextOptions; port: number; wssPort?: number | undefined; host?: string | undefined } | undefined;
  /** the hard ceiling of TCP connections */
  maxConnections: number;
  /** the largest whole packet taken (payload limit and room for the topic and packet id) */
  frameLimit: number;
  refuse: BrokerMetrics['refuse'];
  tellDevice: TellDevice;
  acks: AckOrder;
}

/** The broker's TCP and WebSocket listeners; each connection's reads pass the frame guard first. */
export interface ListenerPorts {
  mqttPort: number;
  wsPort: number | undefined;
  mqttsPort?: number | undefined;
  wssPort?: number | undefined;
}

export function createListeners(opts: ListenerOptions): {
  readonly listening: boolean;
  start(): Promise<ListenerPorts>;
  stop(): Promise<void>;
  /** a renewed certificate for new TLS handshakes; open connections keep theirs */
  setSecureContext(context: SecureContextOptions): void;
} {
  const { aedes, frameLimit } = opts;
  let tcp: NetServer | undefined;
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  let mqtts: TlsServer | undefined;
  let https: HttpsServer | undefined;
  let wsss: WebSocketServer | undefined;

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

  /** MQTT over WebSocket on `server` (HTTP or HTTPS), path /mqtt */
  function webSocketsOn(server: HttpServer | HttpsServer): WebSocketServer {
    // ws refuses (close 1009) a single message past the frame limit before buffering more
    const w = new WebSocketServer({ server, path: '/mqtt', maxPayload: frameLimit + 16 });
    w.on('connection', (ws, req) => {
      req.socket.setNoDelay(true);
      handle(mqttStreamOf(ws), req);
    });
    return w;
  }

  async function listen(server: NetServer | HttpServer, port: number, host = opts.host): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // a burst of CONNECTs (a fleet reconnecting after an outage, or a guessing flood) must not
      // fill the accept queue: past it the kernel drops SYNs, and a device retries after 1, 3, 7 s
      server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
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
      if (!opts.tls) return { mqttPort, wsPort };
      const { tls } = opts;
      const tlsHost = tls.host ?? opts.host;
      mqtts = createTlsServer(tls.context, (sock) => {
        sock.setNoDelay(true);
        handle(sock);
      });
      mqtts.maxConnections = opts.maxConnections;
      // a handshake that fails (a client that does not trust us, a port scanner) is the client's problem, not a crash
      mqtts.on('tlsClientError', () => {});
      const mqttsPort = await listen(mqtts, tls.port, tlsHost);
      let wssPort: number | undefined;
      if (tls.wssPort !== undefined) {
        https = createHttpsServer(tls.context, (_req, res) => res.writeHead(426, { connection: 'close' }).end());
        https.on('tlsClientError', () => {});
        wsss = webSocketsOn(https);
        wssPort = await listen(https, tls.wssPort, tlsHost);
      }
      return { mqttPort, wsPort, mqttsPort, wssPort };
    },
    setSecureContext(context) {
      mqtts?.setSecureContext(context);
      https?.setSecureContext(context);
    },
    async stop() {
      const closing = [tcp, http, mqtts, https].filter((s): s is NetServer | HttpServer => s !== undefined).map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      );
      wss?.close();
      wsss?.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      http?.closeAllConnections();
      https?.closeAllConnections();
      await Promise.all(closing);
      tcp = http = wss = mqtts = https = wsss = undefined;
    },
  };
}
