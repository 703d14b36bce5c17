import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';

/**
 * A WebSocket as the duplex stream aedes reads and writes, one MQTT packet per WebSocket frame.
 *
 * mqtt-packet writes a PUBLISH in five or six pieces (header, length, topic, id, payload) inside a
 * cork. ws's stream has no `_writev`, so on uncork every piece went out as a frame of its own: a
 * frame header, a `ws.send` and a socket write per piece, per resident. One alert to 10,000
 * residents is 10,000 packets, so those pieces set the fan-out time (bench/fanout.ts). With
 * `_writev` the corked pieces leave as one frame (MQTT over WebSocket allows either: MQTT 3.1.1
 * §6).
 */
export function mqttStreamOf(ws: WebSocket): Duplex {
  const stream = createWebSocketStream(ws);
  stream._writev = (chunks, callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => stream._writev!(chunks, callback));
      return;
    }
    const parts = chunks.map(({ chunk }) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)));
    ws.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts), callback);
  };
  return stream;
}
