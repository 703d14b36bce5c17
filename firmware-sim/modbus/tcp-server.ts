import { createServer, type Socket } from 'node:net';
import { noFaults, type Faults } from './faults.ts';
import { exceptionPdu, handlePdu, type RegisterBank } from './pdu.ts';

/**
 * A Modbus TCP server on node:net (Modbus Messaging on TCP/IP Implementation Guide V1.0b).
 * Written here rather than using modbus-serial's ServerTCP because ServerTCP listens on
 * `options.port || 502`, so it cannot take an ephemeral port (port 0) for tests, and its vector
 * API cannot drop the socket or answer with another unit id: the faults the poller must survive.
 */

export interface TcpServerOptions {
  bank: RegisterBank;
  /** answer only this unit id (a direct device ignores others); undefined answers every id */
  unitId?: number;
  host?: string;
  port?: number;
  faults?: Faults;
}

export interface ModbusTcpServer {
  readonly port: number;
  readonly faults: Faults;
  /** requests received (answered or not) */
  readonly requests: number;
  close(): Promise<void>;
}

const MBAP_LENGTH = 7; // transaction id, protocol id, length, unit id (§3.1.3)
const MAX_PDU = 253;

export async function startModbusTcpServer(opts: TcpServerOptions): Promise<ModbusTcpServer> {
  const faults = opts.faults ?? noFaults();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;

  const server = createServer((sock) => {
    sock.setNoDelay(true);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= MBAP_LENGTH) {
        const length = buf.readUInt16BE(4); // unit id + PDU
        if (buf.readUInt16BE(2) !== 0 || length < 2 || length > MAX_PDU + 1) {
          sock.destroy(); // not Modbus: a real device drops such a peer
          return;
        }
        if (buf.length < 6 + length) break;
        const frame = buf.subarray(0, 6 + length);
        buf = buf.subarray(6 + length);
        requests++;
        answer(sock, frame);
      }
    });
  });

  function answer(sock: Socket, frame: Buffer): void {
    const tid = frame.readUInt16BE(0);
    const unit = frame[6]!;
    const pdu = frame.subarray(7);
    if (opts.unitId !== undefined && unit !== opts.unitId) return;
    switch (faults.mode) {
      case 'silent':
        return;
      case 'close':
        sock.destroy();
        return;
    }
    const reply = faults.mode === 'exception' && (pdu[0] ?? 0) <= 4 ? exceptionPdu(pdu[0]!, faults.exception) : handlePdu(opts.bank, pdu);
    const out = Buffer.alloc(7 + reply.length);
    out.writeUInt16BE(tid, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(reply.length + 1, 4);
    out[6] = faults.mode === 'wrong-unit' ? (unit + 1) & 0xff : unit;
    reply.copy(out, 7);
    if (faults.mode === 'slow' && faults.delayMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!sock.destroyed) sock.write(out);
      }, faults.delayMs);
      timers.add(t);
    } else sock.write(out);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    faults,
    get requests() {
      return requests;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
