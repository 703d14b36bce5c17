import { SerialPort } from 'serialport';
import { noFaults, type Faults } from './faults.ts';
import { crc16, exceptionPdu, handlePdu, rtuRequestLength, withCrc, type RegisterBank } from './pdu.ts';

/**
 * A Modbus RTU slave on a serial port (Modbus over Serial Line V1.02). modbus-serial's
 * ServerSerial exists but frames requests by a fixed 30 ms idle interval and has the same vector
 * limits as ServerTCP (no late or wrong-unit replies), so framing is done here: the request length
 * follows from its function code, the CRC is checked, and frames for other units are ignored (§2.2:
 * a slave answers only its own address; address 0 is a broadcast that is never answered).
 */

export interface RtuServerOptions {
  path: string;
  bank: RegisterBank;
  unitId: number;
  baudRate?: number;
  faults?: Faults;
}

export interface ModbusRtuServer {
  readonly faults: Faults;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startModbusRtuServer(opts: RtuServerOptions): Promise<ModbusRtuServer> {
  const faults = opts.faults ?? noFaults();
  const baudRate = opts.baudRate ?? 9600;
  // §2.5.1.1: frames are separated by 3.5 character times of silence; a partial frame older than
  // that is noise. 11 bits per character (start, 8 data, parity or 2nd stop, stop).
  const silenceMs = Math.max(2, Math.ceil((3.5 * 11 * 1000) / baudRate));
  const port = new SerialPort({ path: opts.path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  let buf: Buffer = Buffer.alloc(0);
  let lastByteAt = 0;

  port.on('data', (chunk: Buffer) => {
    const now = Date.now();
    if (now - lastByteAt > silenceMs * 4 && buf.length > 0) buf = Buffer.alloc(0); // stale fragment
    lastByteAt = now;
    buf = Buffer.concat([buf, chunk]);
    for (let guard = 0; guard < 64 && buf.length >= 4; guard++) {
      const length = rtuRequestLength(buf);
      if (length === undefined || buf.length < length) break;
      const frame = buf.subarray(0, length);
      if (frame.readUInt16LE(length - 2) !== crc16(frame.subarray(0, length - 2))) {
        buf = buf.subarray(1); // resynchronise byte by byte
        continue;
      }
      buf = buf.subarray(length);
      requests++;
      answer(frame);
    }
  });
  port.on('error', () => undefined); // a closed pty peer: the test or the technician ends the session

  function answer(frame: Buffer): void {
    const unit = frame[0]!;
    if (unit !== opts.unitId) return;
    if (faults.mode === 'silent' || faults.mode === 'close') return;
    const pdu = frame.subarray(1, frame.length - 2);
    const reply = faults.mode === 'exception' && (pdu[0] ?? 0) <= 4 ? exceptionPdu(pdu[0]!, faults.exception) : handlePdu(opts.bank, pdu);
    const out = withCrc(Buffer.concat([Buffer.from([faults.mode === 'wrong-unit' ? (unit + 1) & 0xff : unit]), reply]));
    // §2.5.1.1: wait the inter-frame silence before replying
    const delay = silenceMs + (faults.mode === 'slow' ? faults.delayMs : 0);
    const t = setTimeout(() => {
      timers.delete(t);
      if (port.isOpen) port.write(out);
    }, delay);
    timers.add(t);
  }

  return {
    faults,
    get requests() {
      return requests;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}
