import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODBUS_FILE, loadModbusMap } from '../../ingest/modbus/load.ts';
import { pollerFor } from '../../ingest/modbus/test-support.ts';
import { buildLibmodbusServer, freePort, openPtyPair, startLibmodbusServer } from '../../ingest/modbus/test-tools.ts';
import { handlePdu, crc16 } from './pdu.ts';
import { createPlcSim } from './plc.ts';
import { startModbusRtuServer } from './rtu-server.ts';
import { startModbusTcpServer } from './tcp-server.ts';

const run = promisify(execFile);
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
const huế = loadModbusMap(DEFAULT_MODBUS_FILE);

/** mbpoll, a real Modbus master (Debian mbpoll); `-1` polls once, `-0` uses PDU addresses. */
async function mbpoll(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('mbpoll', ['-1', '-0', '-o', '1', ...args], { timeout: 10_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('mbpoll is not installed (apt-get install mbpoll)');
    return (e.stdout ?? '') + (e.stderr ?? '');
  }
}
const values = (out: string) => [...out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => [Number(m[1]), Number(m[2])]);

describe('the simulated reservoir PLC read by mbpoll', () => {
  it('serves Tả Trạch big-endian floats, Bình Điền word-swapped floats and exception 2 outside the map', async () => {
    const [ta, binh] = [huế.devices[0]!, huế.devices[1]!];
    const simTa = createPlcSim(ta, { scenario: 'flood' });
    const simBinh = createPlcSim(binh, { scenario: 'flood' });
    simTa.update(2.5 * 3600);
    simBinh.update(2.5 * 3600);
    simTa.set('reservoir_level', 47.25);
    simBinh.set('reservoir_level', 86.5);
    const a = await startModbusTcpServer({ bank: simTa.bank, unitId: 1 });
    const b = await startModbusTcpServer({ bank: simBinh.bank, unitId: 1 });
    cleanup.push(() => a.close(), () => b.close());
    // mbpoll's default 32-bit word order is little (CDAB); -B asks for big (ABCD)
    expect(values(await mbpoll(['-m', 'tcp', '-p', String(a.port), '-t', '4:float', '-B', '-r', '0', '-c', '1', '127.0.0.1']))).toEqual([[0, 47.25]]);
    expect(values(await mbpoll(['-m', 'tcp', '-p', String(b.port), '-t', '4:float', '-r', '100', '-c', '1', '127.0.0.1']))).toEqual([[100, 86.5]]);
    expect(values(await mbpoll(['-m', 'tcp', '-p', String(a.port), '-t', '4', '-r', '20', '-c', '1', '127.0.0.1']))).toEqual([[20, 60]]);
    expect(await mbpoll(['-m', 'tcp', '-p', String(a.port), '-t', '4', '-r', '900', '-c', '1', '127.0.0.1'])).toMatch(/Illegal data address/i);
  });

  it('answers mbpoll over RTU on a pty at 9600 8N1 as unit 7', async () => {
    const rtu = huế.devices[3]!;
    const sim = createPlcSim(rtu);
    sim.update(0);
    sim.set('water_level', 58.42);
    const pty = await openPtyPair();
    cleanup.push(() => pty.close());
    const server = await startModbusRtuServer({ path: pty.b, bank: sim.bank, unitId: 7 });
    cleanup.push(() => server.close());
    const out = await mbpoll(['-m', 'rtu', '-b', '9600', '-P', 'none', '-d', '8', '-s', '1', '-a', '7', '-t', '3', '-r', '0', '-c', '2', pty.a]);
    expect(values(out)).toEqual([[0, 5842], [1, 1260]]);
  });
});

describe('the simulator core', () => {
  it('computes the Modbus CRC of the specification example and answers illegal requests with the right exception', () => {
    // Modbus over serial line V1.02 §6.2.2 example frame: 02 07 → CRC 0x1241 (sent 41 12)
    expect(crc16(Buffer.from([0x02, 0x07]))).toBe(0x1241);
    const sim = createPlcSim(huế.devices[0]!);
    expect([...handlePdu(sim.bank, Buffer.from([0x03, 0, 0, 0, 126]))]).toEqual([0x83, 3]); // > 125 registers
    expect([...handlePdu(sim.bank, Buffer.from([0x2b, 0, 0, 0, 1]))]).toEqual([0xab, 1]); // unsupported function
    expect([...handlePdu(sim.bank, Buffer.from([0x06, 0, 8, 0, 1]))]).toEqual([0x86, 2]); // gate register is read-only
  });
});

describe('the poller against libmodbus unit-test-server over TCP', () => {
  it('reads its known registers, names exception 2 and busy, times out on 0x172 and takes the next reply right', async () => {
    const built = await buildLibmodbusServer();
    cleanup.push(() => built.cleanup());
    const port = await freePort();
    const server = await startLibmodbusServer(built.binary, 'tcp', { UT_PORT: String(port) });
    cleanup.push(() => server.stop());
    const { poller, got } = pollerFor(`
devices:
  - id: libmodbus-tcp
    station: ta-trach
    transport: { kind: tcp, host: 127.0.0.1, port: ${port} }
    unitId: 255
    timeoutMs: 300
    retries: 0
    maxGap: 0
    registers:
      - { name: ut_input_register, function: input, address: 0x108, metric: inflow }
      - { name: ut_input_bit_2, function: discrete, address: 0x1C6, metric: rssi }
      - { name: ut_input_bit_4, function: discrete, address: 0x1C8, metric: battery_v }
      - { name: ut_register, function: holding, address: 0x160, metric: outflow, writable: true }
      - { name: special_busy, function: holding, address: 0x170, metric: spillway }
      - { name: sleep_500ms, function: holding, address: 0x172, metric: water_level }
      - { name: not_mapped, function: input, address: 0x300, metric: rainfall }
`);
    cleanup.push(() => poller.stop());
    await poller.writeRegister('libmodbus-tcp', 'ut_register', 0x022b); // UT_REGISTERS_TAB[0]
    const h = await poller.pollNow('libmodbus-tcp');
    // UT_INPUT_REGISTERS_TAB = {0x000A}; UT_INPUT_BITS_TAB[0] = 0xAC: bit 2 set, bit 4 clear
    expect(got[0]!.reading.values).toEqual({ inflow: 10, rssi: 1, battery_v: 0, outflow: 0x022b });
    expect(h.errors).toEqual({ SERVER_DEVICE_BUSY: 1, TIMEOUT: 1, ILLEGAL_DATA_ADDRESS: 1 });
    expect(h.state).toBe('degraded');
    const again = await poller.pollNow('libmodbus-tcp');
    expect(got[1]!.reading.values).toEqual({ inflow: 10, rssi: 1, battery_v: 0, outflow: 0x022b }); // the late 0x172 reply went nowhere
    expect(again.connected).toBe(true);
  });
});
