import type { RegisterFunction } from '../../ingest/modbus/schema.ts';

/**
 * The application layer of a simulated Modbus server, shared by the TCP and RTU front ends. Pure:
 * a request PDU and a register bank in, a response PDU out. Section numbers are from the Modbus
 * Application Protocol Specification V1.1b3.
 */

export interface RegisterBank {
  /** address → value (0/1 for bits, 0..65535 for registers); an absent address is illegal (exception 2) */
  tables: Record<RegisterFunction, Map<number, number>>;
  /** `holding:20`, `coil:3`: what a master may write */
  writable: Set<string>;
}

export function emptyBank(): RegisterBank {
  return { tables: { coil: new Map(), discrete: new Map(), holding: new Map(), input: new Map() }, writable: new Set() };
}

export const Exception = { ILLEGAL_FUNCTION: 1, ILLEGAL_DATA_ADDRESS: 2, ILLEGAL_DATA_VALUE: 3, SERVER_DEVICE_BUSY: 6 } as const;

export function exceptionPdu(fn: number, code: number): Buffer {
  return Buffer.from([fn | 0x80, code]);
}

const READ_TABLE: Record<number, RegisterFunction> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

export function handlePdu(bank: RegisterBank, pdu: Buffer): Buffer {
  const fn = pdu[0] ?? 0;
  if (pdu.length < 5) return exceptionPdu(fn, Exception.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const table = READ_TABLE[fn];
  if (table) {
    const count = pdu.readUInt16BE(3);
    const bits = fn <= 2;
    // §6.1–6.4: quantity 1..2000 bits or 1..125 registers, else exception 3.
    if (count < 1 || count > (bits ? 2000 : 125)) return exceptionPdu(fn, Exception.ILLEGAL_DATA_VALUE);
    const values: number[] = [];
    for (let a = address; a < address + count; a++) {
      const v = bank.tables[table].get(a);
      if (v === undefined) return exceptionPdu(fn, Exception.ILLEGAL_DATA_ADDRESS);
      values.push(v);
    }
    if (bits) {
      const out = Buffer.alloc(2 + Math.ceil(count / 8));
      out[0] = fn;
      out[1] = out.length - 2;
      values.forEach((v, i) => {
        if (v) out[2 + (i >> 3)]! |= 1 << (i & 7);
      });
      return out;
    }
    const out = Buffer.alloc(2 + 2 * count);
    out[0] = fn;
    out[1] = 2 * count;
    values.forEach((v, i) => out.writeUInt16BE(v & 0xffff, 2 + 2 * i));
    return out;
  }
  switch (fn) {
    case 5: {
      // §6.5: 0xFF00 on, 0x0000 off, anything else is exception 3
      const raw = pdu.readUInt16BE(3);
      if (raw !== 0xff00 && raw !== 0) return exceptionPdu(fn, Exception.ILLEGAL_DATA_VALUE);
      if (!canWrite(bank, 'coil', address, 1)) return exceptionPdu(fn, Exception.ILLEGAL_DATA_ADDRESS);
      bank.tables.coil.set(address, raw ? 1 : 0);
      return Buffer.from(pdu.subarray(0, 5));
    }
    case 6: {
      if (!canWrite(bank, 'holding', address, 1)) return exceptionPdu(fn, Exception.ILLEGAL_DATA_ADDRESS);
      bank.tables.holding.set(address, pdu.readUInt16BE(3));
      return Buffer.from(pdu.subarray(0, 5));
    }
    case 15:
    case 16: {
      const count = pdu.readUInt16BE(3);
      const byteCount = pdu[5] ?? 0;
      const max = fn === 15 ? 0x7b0 : 123; // §6.11, §6.12
      const need = fn === 15 ? Math.ceil(count / 8) : 2 * count;
      if (count < 1 || count > max || byteCount !== need || pdu.length < 6 + need) return exceptionPdu(fn, Exception.ILLEGAL_DATA_VALUE);
      const table = fn === 15 ? 'coil' : 'holding';
      if (!canWrite(bank, table, address, count)) return exceptionPdu(fn, Exception.ILLEGAL_DATA_ADDRESS);
      for (let i = 0; i < count; i++) {
        const v = fn === 15 ? ((pdu[6 + (i >> 3)]! >> (i & 7)) & 1) : pdu.readUInt16BE(6 + 2 * i);
        bank.tables[table].set(address + i, v);
      }
      return Buffer.from(pdu.subarray(0, 5));
    }
    default:
      return exceptionPdu(fn, Exception.ILLEGAL_FUNCTION);
  }
}

function canWrite(bank: RegisterBank, table: RegisterFunction, address: number, count: number): boolean {
  for (let a = address; a < address + count; a++) if (!bank.writable.has(`${table}:${a}`)) return false;
  return true;
}

/** Modbus over serial line V1.02 §6.2.2: CRC-16 (poly 0xA001 reflected, init 0xFFFF), sent low byte first. */
export function crc16(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function withCrc(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  frame.copy(out);
  out.writeUInt16LE(crc16(frame), frame.length);
  return out;
}

/** Length of a complete RTU request frame (unit + PDU + CRC) once enough bytes are in, else undefined. */
export function rtuRequestLength(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const fn = buf[1]!;
  if (fn >= 1 && fn <= 6) return 8;
  if (fn === 15 || fn === 16) return buf.length < 7 ? undefined : 9 + buf[6]!;
  return 4; // unknown function: unit, fn, CRC — answered with exception 1
}
