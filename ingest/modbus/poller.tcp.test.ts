import { afterEach, describe, expect, it } from 'vitest';
import { startModbusTcpServer, type ModbusTcpServer } from '../../firmware-sim/modbus/tcp-server.ts';
import { createPlcSim } from '../../firmware-sim/modbus/plc.ts';
import { emptyBank } from '../../firmware-sim/modbus/pdu.ts';
import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/log.ts';
import { openEmbeddedStore } from '../../store/duckdb.ts';
import { normaliseReading } from '../normalise.ts';
import { DEFAULT_MODBUS_FILE, loadModbusMap, parseModbusMap } from './load.ts';
import { ModbusError } from './errors.ts';
import { createModbusPoller, type ModbusPoller } from './poller.ts';
import { pollerFor, sleep, withTransport } from './test-support.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
function track<T extends { close(): Promise<void> } | ModbusPoller>(x: T): T {
  cleanup.push(async () => ('stop' in x ? x.stop() : (x as { close(): Promise<void> }).close()));
  return x;
}

const huế = loadModbusMap(DEFAULT_MODBUS_FILE);

describe('the Modbus poller over TCP against the simulated Huế PLCs', () => {
  it('reads every metric of the three reservoir PLCs as the simulator encoded it, in the map each vendor uses', async () => {
    const tcpDevices = huế.devices.filter((d) => d.transport.kind === 'tcp');
    const sims = tcpDevices.map((d) => createPlcSim(d, { scenario: 'flood' }));
    const servers = await Promise.all(sims.map((s) => startModbusTcpServer({ bank: s.bank, unitId: s.device.unitId }).then(track)));
    const t = 2.5 * 3600; // near the flood peak: spillway gates open
    for (const s of sims) s.update(t);
    const devices = tcpDevices.map((d, i) => withTransport(d, { kind: 'tcp', host: '127.0.0.1', port: servers[i]!.port }));
    const { poller, got } = pollerFor({ file: 'test', devices });
    track(poller);
    for (const d of devices) {
      const h = await poller.pollNow(d.id);
      expect(h.state, d.id).toBe('ok');
    }
    expect(got.map((g) => g.station)).toEqual(['ta-trach', 'binh-dien', 'huong-dien']);
    for (const g of got) {
      const v = g.reading.values;
      expect(Object.keys(v).sort()).toEqual(['gate_opening', 'inflow', 'outflow', 'reservoir_level', 'spillway']);
      expect(v.spillway!).toBeGreaterThan(0);
      expect(v.gate_opening!).toBeGreaterThan(0);
    }
    // the values are the simulator's, decoded through each vendor's order and scale
    const binh = got[1]!.reading.values;
    expect(binh.reservoir_level).toBeCloseTo(85 - 1.5 + 3.5 * 1, 0);
    expect(poller.health().find((h) => h.deviceId === 'plc-binh-dien')!.values.gate_3_opening).toBeUndefined(); // not polled: no metric
  });

  it('decodes every type and byte/word order against known register contents', async () => {
    const bank = emptyBank();
    const words: Record<number, number> = {
      0: 0x47f1, 1: 0x2000, // float ABCD 123456
      2: 0x2000, 3: 0x47f1, // CDAB
      4: 0xf147, 5: 0x0020, // BADC
      6: 0x0020, 7: 0xf147, // DCBA
      8: 0xfffe, 9: 0x1dc0, // int32 ABCD -123456
      10: 0x1dc0, 11: 0xfffe, // int32 CDAB
      12: 0x0012, 13: 0xd687, // uint32 ABCD 1234567
      14: 0x87d6, 15: 0x1200, // uint32 DCBA
      16: 0xff85, // int16 -123 → ×0.01 = -1.23
      17: 0x3930, // uint16 byte-swapped 0x3039 = 12345
      30: 0x000a, // beyond a gap of 13: a second request
    };
    for (const [a, w] of Object.entries(words)) bank.tables.holding.set(Number(a), w);
    bank.tables.input.set(0x108, 0x000a); // libmodbus's input register
    [1, 0, 1, 1].forEach((b, i) => bank.tables.coil.set(i, b));
    bank.tables.discrete.set(5, 1);
    const server = track(await startModbusTcpServer({ bank, unitId: 9 }));
    const { poller, got } = pollerFor(`
devices:
  - id: types
    station: kim-long
    transport: { kind: tcp, host: 127.0.0.1, port: ${server.port} }
    unitId: 9
    maxGap: 4
    registers:
      - { name: f_abcd, function: holding, address: 0, type: float32, metric: inflow }
      - { name: f_cdab, function: holding, address: 2, type: float32, wordOrder: little, metric: outflow }
      - { name: f_badc, function: holding, address: 4, type: float32, byteOrder: little, metric: spillway }
      - { name: f_dcba, function: holding, address: 6, type: float32, byteOrder: little, wordOrder: little, metric: pm25 }
      - { name: i32_abcd, function: holding, address: 8, type: int32, scale: 0.001, metric: water_level }
      - { name: i32_cdab, function: holding, address: 10, type: int32, wordOrder: little, metric: co }
      - { name: u32_abcd, function: holding, address: 12, type: uint32, scale: 0.01, offset: -100, metric: pm10 }
      - { name: u32_dcba, function: holding, address: 14, type: uint32, byteOrder: little, wordOrder: little, metric: o3 }
      - { name: i16, function: holding, address: 16, type: int16, scale: 0.01, metric: temperature }
      - { name: u16_swapped, function: holding, address: 17, type: uint16, byteOrder: little, metric: no2 }
      - { name: far, function: holding, address: 30, metric: so2 }
      - { name: in_reg, function: input, address: 264, metric: humidity }
      - { name: coil_0, function: coil, address: 0, metric: rssi }
      - { name: coil_3, function: coil, address: 3, metric: battery_v }
      - { name: discrete_5, function: discrete, address: 5, metric: rainfall }
`);
    track(poller);
    const h = await poller.pollNow('types');
    expect(h.state).toBe('ok');
    expect(got[0]!.reading.values).toEqual({
      inflow: 123456, outflow: 123456, spillway: 123456, pm25: 123456,
      water_level: -123.456, co: -123456, pm10: 12245.67, o3: 1234567,
      temperature: -1.23, no2: 12345, so2: 10, humidity: 10,
      rssi: 1, battery_v: 1, rainfall: 1,
    });
    // holding 0..17 in one request, 30 in another (gap 12 > 4), input, coils and discrete: 5 requests
    expect(server.requests).toBe(5);
  });
});

describe('the Modbus poller when devices misbehave', () => {
  const device = (port: number, extra = '') => `
  - id: dev-${port}
    station: ta-trach
    transport: { kind: tcp, host: 127.0.0.1, port: ${port} }
    unitId: 1
    timeoutMs: 150
    retries: 1
    reconnectInitialMs: 50
    reconnectMaxMs: 200${extra}
    registers:
      - { name: reservoir_level, function: holding, address: 0, type: float32, metric: reservoir_level }`;

  async function plc(): Promise<ModbusTcpServer> {
    const sim = createPlcSim(huế.devices[0]!, { scenario: 'calm' });
    sim.update(0);
    return track(await startModbusTcpServer({ bank: sim.bank, unitId: 1 }));
  }

  it('names Modbus exceptions: an unmapped address is ILLEGAL_DATA_ADDRESS, a busy PLC SERVER_DEVICE_BUSY', async () => {
    const server = await plc();
    const { poller } = pollerFor(`devices:${device(server.port)}
      - { name: nothing_here, function: input, address: 4000, metric: inflow }`);
    track(poller);
    let h = await poller.pollNow(`dev-${server.port}`);
    expect(h.state).toBe('degraded'); // one block read, one refused
    expect(h.lastError).toMatchObject({ code: 'HW_ERR_MODBUS_EXCEPTION', kind: 'ILLEGAL_DATA_ADDRESS' });
    expect(h.values.reservoir_level).toBeCloseTo(43.5, 1);
    server.faults.mode = 'exception';
    server.faults.exception = 6;
    h = await poller.pollNow(`dev-${server.port}`);
    expect(h.errors.SERVER_DEVICE_BUSY).toBe(4); // each of the two blocks: a try and a retry (busy is retried)
  });

  it('times out on a silent device, reports it down, and recovers when it answers again', async () => {
    const server = await plc();
    const { poller, metrics } = pollerFor(`devices:${device(server.port)}`);
    track(poller);
    const id = `dev-${server.port}`;
    server.faults.mode = 'silent';
    for (let i = 0; i < 3; i++) await poller.pollNow(id);
    let h = poller.health()[0]!;
    expect(h.state).toBe('down');
    expect(h.errors.TIMEOUT).toBe(6); // 3 polls × (1 try + 1 retry)
    server.faults.mode = 'none';
    h = await poller.pollNow(id);
    expect(h.state).toBe('ok');
    expect(h.lastGoodPollAt).toBeGreaterThan(0);
    const text = await metrics.metrics();
    expect(text).toMatch(new RegExp(`huewatch_modbus_errors_total\\{device="${id}",kind="TIMEOUT"\\} 6`));
    expect(text).toMatch(new RegExp(`huewatch_modbus_device_up\\{device="${id}"\\} 1`));
  });

  it('reconnects with backoff after the PLC closes the socket', async () => {
    const server = await plc();
    const { poller } = pollerFor(`devices:${device(server.port)}`);
    track(poller);
    const id = `dev-${server.port}`;
    expect((await poller.pollNow(id)).state).toBe('ok');
    server.faults.mode = 'close';
    const h = await poller.pollNow(id);
    expect(h.lastError).toMatchObject({ code: 'HW_ERR_MODBUS_DISCONNECTED' });
    expect(h.connected).toBe(false);
    server.faults.mode = 'none';
    await sleep(260); // past the longest backoff (200 ms + 20 % jitter)
    expect((await poller.pollNow(id)).state).toBe('ok');
  });

  it('takes a slow reply within the timeout, and does not take a late one as the next answer', async () => {
    const server = await plc();
    const { poller, got } = pollerFor(`devices:${device(server.port)}`);
    track(poller);
    const id = `dev-${server.port}`;
    server.faults.mode = 'slow';
    server.faults.delayMs = 80;
    const h = await poller.pollNow(id);
    expect(h.state).toBe('ok');
    expect(h.lastLatencyMs).toBeGreaterThanOrEqual(75);
    server.faults.delayMs = 200; // > 150 ms timeout: both tries time out, their replies arrive late
    expect((await poller.pollNow(id)).lastError?.kind).toBe('TIMEOUT');
    server.faults.mode = 'none';
    const before = got.length;
    expect((await poller.pollNow(id)).state).toBe('ok'); // MBAP transaction ids keep the late replies apart
    expect(got.length).toBe(before + 1);
  });

  it('keeps a healthy device on its schedule while another is dead and a third refuses connections', async () => {
    const healthy = await plc();
    const dead = await plc();
    dead.faults.mode = 'silent';
    const refused = await plc();
    const refusedPort = refused.port;
    await refused.close();
    const { poller, got } = pollerFor(`
defaults: { pollIntervalMs: 100 }
devices:${device(healthy.port)}${device(dead.port)}${device(refusedPort)}`);
    track(poller);
    await poller.start();
    await sleep(1_550);
    await poller.stop();
    const times = got.filter((g) => g.deviceId === `dev-${healthy.port}`).map((g) => g.reading.ts);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(times.length).toBeGreaterThanOrEqual(12);
    // 100 ms ± scheduling noise on a loaded 2-core machine; had the dead device (300 ms a poll:
    // two 150 ms timeouts) held the healthy one up, gaps would be 300 ms or more
    expect(Math.max(...gaps)).toBeLessThan(250);
    expect(got.some((g) => g.deviceId !== `dev-${healthy.port}`)).toBe(false);
    const health = poller.health();
    expect(health.find((h) => h.deviceId === `dev-${dead.port}`)!.errors.TIMEOUT).toBeGreaterThanOrEqual(4);
    expect(health.find((h) => h.deviceId === `dev-${refusedPort}`)!.errors.DISCONNECTED).toBeGreaterThanOrEqual(2);
  });
});

describe('operator writes', () => {
  it('sets a writable register and refuses gate, read-only and unknown registers by code', async () => {
    const d = huế.devices[1]!; // Bình Điền
    const sim = createPlcSim(d);
    sim.update(0);
    const server = track(await startModbusTcpServer({ bank: sim.bank, unitId: d.unitId }));
    const { poller } = pollerFor({ file: 'test', devices: [withTransport(d, { kind: 'tcp', host: '127.0.0.1', port: server.port })] });
    track(poller);
    const r = await poller.writeRegister(d.id, 'reporting_interval_s', 15);
    expect(r.words).toEqual([15]);
    expect(sim.bank.tables.holding.get(120)).toBe(15);
    const code = (p: Promise<unknown>) => p.then(() => 'written', (e: ModbusError) => e.code);
    expect(await code(poller.writeRegister(d.id, 'gate_opening', 0))).toBe('HW_ERR_MODBUS_NOT_WRITABLE');
    expect(await code(poller.writeRegister(d.id, 'gate_3_opening', 0))).toBe('HW_ERR_MODBUS_NOT_WRITABLE');
    expect(await code(poller.writeRegister(d.id, 'inflow', 0))).toBe('HW_ERR_MODBUS_NOT_WRITABLE');
    expect(await code(poller.writeRegister(d.id, 'nope', 0))).toBe('HW_ERR_MODBUS_REGISTER_UNKNOWN');
    expect(await code(poller.writeRegister('plc-x', 'nope', 0))).toBe('HW_ERR_MODBUS_DEVICE_UNKNOWN');
    expect(await code(poller.writeRegister(d.id, 'reporting_interval_s', 70000))).toBe('HW_ERR_MODBUS_VALUE_INVALID');
    expect(sim.bank.tables.holding.get(115)).toBe(sim.bank.tables.holding.get(115)); // gates untouched
  });
});

describe('a float32 register holding NaN or ±Infinity', () => {
  it('drops just that value, keeps the rest of the poll, counts it per register and shows it in health (degraded, register named)', async () => {
    const bank = emptyBank();
    const words: Record<number, number> = {
      0: 0x7fc0, 1: 0x0000, // NaN (quiet)
      2: 0x7f80, 3: 0x0000, // +Infinity
      4: 0xff80, 5: 0x0000, // -Infinity
      6: 0x422e, 7: 0x0000, // 43.5
      8: 0x7fa0, 9: 0x0001, // NaN (signalling, another payload)
    };
    for (const [a, w] of Object.entries(words)) bank.tables.holding.set(Number(a), w);
    bank.tables.holding.set(10, 120); // uint16 ×0.01 = 1.2
    const server = track(await startModbusTcpServer({ bank, unitId: 1 }));
    const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    cleanup.push(() => store.close());
    const metrics = new Registry();
    const poller = track(createModbusPoller({
      config: parseModbusMap(`
devices:
  - id: nan-plc
    station: ta-trach
    transport: { kind: tcp, host: 127.0.0.1, port: ${server.port} }
    unitId: 1
    registers:
      - { name: level_a, function: holding, address: 0, type: float32, metric: reservoir_level }
      - { name: inflow_a, function: holding, address: 2, type: float32, metric: inflow }
      - { name: outflow_a, function: holding, address: 4, type: float32, metric: outflow }
      - { name: spill_a, function: holding, address: 6, type: float32, metric: spillway }
      - { name: gate_a, function: holding, address: 8, type: float32, scale: 2, metric: gate_opening }
      - { name: batt, function: holding, address: 10, type: uint16, scale: 0.01, metric: battery_v }
`, 'test.yaml'),
      metrics,
      log: silentLogger(),
      // the reading sink's path without MQTT: normalise, then the real store
      accept: async (deviceId, station, readings) => store.writeReadings(readings.flatMap((r) => normaliseReading(r, deviceId, station).rows)),
    }));
    const h = await poller.pollNow('nan-plc');
    expect(h.state).toBe('degraded');
    expect(h.nonFinite).toEqual(['level_a', 'inflow_a', 'outflow_a', 'gate_a']);
    expect(h.lastError).toMatchObject({ code: 'HW_ERR_MODBUS_VALUE_INVALID', kind: 'NON_FINITE', message: expect.stringContaining('level_a') });
    expect(h.consecutiveFailures).toBe(0);
    expect(h.values).toEqual({ spill_a: 43.5, batt: 1.2 });
    expect(poller.stationHealth('ta-trach')[0]).toMatchObject({ state: 'degraded', nonFinite: ['level_a', 'inflow_a', 'outflow_a', 'gate_a'] });
    // the good values of the same poll are stored, the non-finite ones are not
    const latest = await store.latest('ta-trach');
    expect(latest.map((l) => [l.metric, l.value, l.quality])).toEqual([['battery_v', 1.2, 'ok'], ['spillway', 43.5, 'ok']]);
    expect(await store.count()).toBe(2);
    const text = await metrics.metrics();
    expect(text).toContain('huewatch_modbus_non_finite_values_total{device="nan-plc",register="level_a"} 1');
    expect(text).toContain('huewatch_modbus_non_finite_values_total{device="nan-plc",register="gate_a"} 1');
    expect(text).toContain('huewatch_modbus_device_up{device="nan-plc"} 0');
    // the PLC measures again: ok, nothing named
    bank.tables.holding.set(0, 0x422e);
    bank.tables.holding.set(2, 0x0000);
    bank.tables.holding.set(4, 0x0000);
    bank.tables.holding.set(8, 0x0000);
    bank.tables.holding.set(9, 0x0000);
    const h2 = await poller.pollNow('nan-plc');
    expect(h2.state).toBe('ok');
    expect(h2.nonFinite).toEqual([]);
    expect(await store.count()).toBe(8);
  });
});
