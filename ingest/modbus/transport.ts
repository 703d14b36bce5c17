import modbusSerial from 'modbus-serial';
import { ModbusError, ModbusErrorCode } from './errors.ts';
import type { ModbusDevice, RegisterFunction } from './schema.ts';

/**
 * One connection to one device, on modbus-serial. Requests go one at a time (RTU has no
 * transaction id and most PLCs serve one request per connection at a time); errors come back as
 * ModbusError with a stable code and the exception's name.
 *
 * RTU: a reply that comes after its timeout would otherwise be read as the answer to the next
 * request (FACTS.md). modbus-serial's RTU port already checks CRC, unit id, function code and
 * length; on top of that, after any failed exchange the line is drained — bytes are discarded
 * until the device's response window has passed and the line has been silent for 3.5 character
 * times — and the receive buffer is emptied before every request. libmodbus does the same in its
 * error recovery (`_sleep_response_timeout` then `modbus_flush`).
 */

// modbus-serial is CommonJS: under NodeNext its default export arrives as `.default` of the module.
const ModbusClient = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusClient>;

export interface ModbusLink {
  readonly isOpen: boolean;
  connect(): Promise<void>;
  read(fn: RegisterFunction, address: number, count: number): Promise<number[]>;
  writeRegisters(address: number, words: number[]): Promise<void>;
  writeCoil(address: number, on: boolean): Promise<void>;
  close(): Promise<void>;
}

/** The parts of modbus-serial's RTU port we reach into for draining (not in its typings). */
interface RtuPortInternals {
  _buffer: Buffer;
  _client: { on(ev: 'data', f: () => void): void; off(ev: 'data', f: () => void): void; flush(cb: () => void): void };
}

export function createModbusLink(device: ModbusDevice): ModbusLink {
  const t = device.transport;
  let client: ModbusClient | undefined;
  let open = false;
  let failPending: ((err: ModbusError) => void) | undefined;
  let mustDrain = false;
  const silenceMs = t.kind === 'rtu' ? Math.max(2, Math.ceil((3.5 * 11 * 1000) / t.baudRate)) : 0;

  function classify(err: unknown): ModbusError {
    if (err instanceof ModbusError) return err;
    const e = err as { modbusCode?: number; name?: string; errno?: string; message?: string };
    if (typeof e.modbusCode === 'number') return new ModbusError(ModbusErrorCode.EXCEPTION, `${device.id}: ${e.message ?? 'exception'}`, e.modbusCode);
    if (e.name === 'TransactionTimedOutError' || e.errno === 'ETIMEDOUT') return new ModbusError(ModbusErrorCode.TIMEOUT, `${device.id}: no reply within ${device.timeoutMs} ms`);
    if (e.name === 'PortNotOpenError' || e.errno === 'ECONNREFUSED' || e.errno === 'ECONNRESET' || /not open|ECONN|EPIPE|closed/i.test(e.message ?? '')) {
      return new ModbusError(ModbusErrorCode.DISCONNECTED, `${device.id}: ${e.message ?? 'disconnected'}`);
    }
    return new ModbusError(ModbusErrorCode.BAD_REPLY, `${device.id}: ${e.message ?? String(err)}`);
  }

  async function drain(): Promise<void> {
    const port = (client as unknown as { _port?: RtuPortInternals } | undefined)?._port;
    if (!port?._client) return;
    if (mustDrain) {
      let last = Date.now();
      const onData = () => (last = Date.now());
      port._client.on('data', onData);
      const start = Date.now();
      const window = device.timeoutMs;
      // bounded: at most two response windows
      while (Date.now() - start < 2 * window && (Date.now() - start < window || Date.now() - last < silenceMs)) {
        await new Promise((r) => setTimeout(r, Math.max(silenceMs, 5)));
      }
      port._client.off('data', onData);
      mustDrain = false;
    }
    port._buffer = Buffer.alloc(0);
    await new Promise<void>((resolve) => port._client.flush(() => resolve()));
  }

  async function exchange<T>(run: (c: ModbusClient) => Promise<T>): Promise<T> {
    if (!client || !open) throw new ModbusError(ModbusErrorCode.DISCONNECTED, `${device.id}: not connected`);
    if (t.kind === 'rtu') await drain();
    const c = client;
    try {
      return await new Promise<T>((resolve, reject) => {
        failPending = reject;
        run(c).then(resolve, reject);
      });
    } catch (err) {
      const e = classify(err);
      if (e.code !== ModbusErrorCode.EXCEPTION) mustDrain = true; // a reply may still be on its way
      throw e;
    } finally {
      failPending = undefined;
    }
  }

  return {
    get isOpen() {
      return open;
    },
    async connect() {
      await this.close();
      const c = new ModbusClient();
      client = c;
      c.setTimeout(device.timeoutMs);
      c.setID(device.unitId);
      const connecting =
        t.kind === 'tcp'
          ? c.connectTCP(t.host, { port: t.port, timeout: device.timeoutMs })
          : c.connectRTUBuffered(t.path, { baudRate: t.baudRate, parity: t.parity, dataBits: t.dataBits, stopBits: t.stopBits });
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          connecting,
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`connect timed out after ${device.timeoutMs} ms`)), device.timeoutMs))),
        ]);
      } catch (err) {
        client = undefined;
        await closeQuietly(c);
        throw new ModbusError(ModbusErrorCode.DISCONNECTED, `${device.id}: cannot connect: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      open = true;
      // A freshly opened serial line may still carry the late reply to another master's (or our
      // previous session's) request: drain it too. Measured with libmodbus's 0x172 sleep.
      mustDrain = t.kind === 'rtu';
      c.on('close', () => {
        if (client !== c) return;
        open = false;
        failPending?.(new ModbusError(ModbusErrorCode.DISCONNECTED, `${device.id}: connection closed by the device`));
      });
      c.on('error', () => undefined); // surfaced through the pending request or the close event
    },
    async read(fn, address, count) {
      return exchange(async (c) => {
        switch (fn) {
          case 'holding':
            return (await c.readHoldingRegisters(address, count)).data;
          case 'input':
            return (await c.readInputRegisters(address, count)).data;
          case 'coil':
            return (await c.readCoils(address, count)).data.slice(0, count).map((b: boolean) => (b ? 1 : 0));
          case 'discrete':
            return (await c.readDiscreteInputs(address, count)).data.slice(0, count).map((b: boolean) => (b ? 1 : 0));
        }
      });
    },
    async writeRegisters(address, words) {
      await exchange(async (c) => {
        if (words.length === 1) await c.writeRegister(address, words[0]!); // FC 6
        else await c.writeRegisters(address, words); // FC 16
      });
    },
    async writeCoil(address, on) {
      await exchange(async (c) => {
        await c.writeCoil(address, on); // FC 5
      });
    },
    async close() {
      const c = client;
      client = undefined;
      open = false;
      if (!c) return;
      failPending?.(new ModbusError(ModbusErrorCode.DISCONNECTED, `${device.id}: closed`));
      await closeQuietly(c);
    },
  };
}

/** modbus-serial never calls back when closing a port that did not open: bound the wait. */
function closeQuietly(c: ModbusClient): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 200);
    try {
      c.close(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve(); // already closed: nothing to release
    }
  });
}
