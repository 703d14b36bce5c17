import { afterEach, describe, expect, it } from 'vitest';
import { createPlcSim } from '../../firmware-sim/modbus/plc.ts';
import { startModbusRtuServer } from '../../firmware-sim/modbus/rtu-server.ts';
import { DEFAULT_MODBUS_FILE, loadModbusMap } from './load.ts';
import type { ModbusDevice } from './schema.ts';
import { pollerFor, withTransport } from './test-support.ts';
import { buildLibmodbusServer, openPtyPair, startLibmodbusServer } from './test-tools.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const rtu = loadModbusMap(DEFAULT_MODBUS_FILE).devices.find((d) => d.transport.kind === 'rtu')!;
const serial = (path: string): ModbusDevice['transport'] => ({ kind: 'rtu', path, baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 });

describe('the Modbus poller over RTU on a pseudo-terminal pair at 9600 8N1', () => {
  it('reads the Thượng Nhật logger from the simulated RTU, and drains a late reply so it is not taken as the next answer', async () => {
    const pty = await openPtyPair();
    cleanup.push(() => pty.close());
    const sim = createPlcSim(rtu, { scenario: 'flood' });
    sim.update(2.5 * 3600);
    const server = await startModbusRtuServer({ path: pty.b, bank: sim.bank, unitId: rtu.unitId });
    cleanup.push(() => server.close());
    const device = withTransport(rtu, serial(pty.a), { timeoutMs: 250, retries: 0 });
    const { poller, got } = pollerFor({ file: 'test', devices: [device] });
    cleanup.push(() => poller.stop());

    expect((await poller.pollNow(rtu.id)).state).toBe('ok');
    const first = got[0]!.reading.values;
    expect(first.battery_v).toBe(12.6);
    expect(first.water_level).toBeGreaterThan(59); // above Thượng Nhật's alarm level 1 near the peak

    server.faults.mode = 'slow';
    server.faults.delayMs = 350; // the reply lands ~100 ms after the 250 ms timeout
    expect((await poller.pollNow(rtu.id)).lastError?.kind).toBe('TIMEOUT');
    server.faults.delayMs = 150; // still slow but within the timeout: without the drain, the late reply (old level) would come first
    sim.set('water_level', 61.23);
    expect((await poller.pollNow(rtu.id)).state).toBe('ok');
    expect(got.at(-1)!.reading.values.water_level).toBe(61.23);
    server.faults.mode = 'none';

    expect((await poller.writeRegister(rtu.id, 'reporting_interval_s', 300)).words).toEqual([300]);
    expect(sim.bank.tables.holding.get(0)).toBe(300);
  });

  it('against libmodbus unit-test-server over RTU: a reply 500 ms late (0x172) never answers the next request, and a wrong unit id (0x171) is refused', async () => {
    const built = await buildLibmodbusServer();
    cleanup.push(() => built.cleanup());
    const pty = await openPtyPair();
    cleanup.push(() => pty.close());
    const server = await startLibmodbusServer(built.binary, 'rtu', { UT_TTY: pty.b });
    cleanup.push(() => server.stop());
    const { poller, got } = pollerFor(`
devices:
  - id: libmodbus-rtu
    station: thuong-nhat
    transport: { kind: rtu, path: ${pty.a}, baudRate: 9600 }
    unitId: 17 # SERVER_ID in unit-test.h
    timeoutMs: 300
    retries: 0
    maxGap: 0
    registers:
      - { name: first, function: holding, address: 0x160, metric: water_level, writable: true }
      - { name: sleepy, function: holding, address: 0x172, metric: rainfall, writable: true }
`);
    cleanup.push(() => poller.stop());
    await poller.writeRegister('libmodbus-rtu', 'first', 0x1111);
    await poller.writeRegister('libmodbus-rtu', 'sleepy', 0x2222);
    let h = await poller.pollNow('libmodbus-rtu'); // 0x160 answers, 0x172 sleeps 500 ms past our 300 ms
    expect(h.lastError?.kind).toBe('TIMEOUT');
    expect(got[0]!.reading.values).toEqual({ water_level: 0x1111 });
    h = await poller.pollNow('libmodbus-rtu'); // without the drain, 0x172's late 0x2222 would be read as 0x160
    expect(got[1]!.reading.values).toEqual({ water_level: 0x1111 });
    expect(h.errors.TIMEOUT).toBe(2);

    const wrong = pollerFor(`
devices:
  - id: libmodbus-wrong-id
    station: thuong-nhat
    transport: { kind: rtu, path: ${pty.a}, baudRate: 9600 }
    unitId: 17
    timeoutMs: 300
    retries: 0
    registers:
      - { name: wrong_id, function: holding, address: 0x171, metric: water_level }
`);
    await poller.stop(); // one master on the line at a time
    cleanup.push(() => wrong.poller.stop());
    const w = await wrong.poller.pollNow('libmodbus-wrong-id');
    expect(w.lastError?.kind, JSON.stringify([w, wrong.got])).toBe('TIMEOUT'); // a frame from unit 18 is not our answer
    expect(wrong.got).toEqual([]);
  });
});
