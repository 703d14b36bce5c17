import { describe, expect, it } from 'vitest';
import { DEFAULT_STATIONS_FILE, loadStations } from '../../platform/stations.ts';
import { DEFAULT_MODBUS_FILE, loadModbusMap, ModbusMapError, parseModbusMap } from './load.ts';

const stations = loadStations(DEFAULT_STATIONS_FILE).map((s) => s.id);

function problems(text: string) {
  try {
    parseModbusMap(text, 'test.yaml', { stations });
  } catch (err) {
    expect(err).toBeInstanceOf(ModbusMapError);
    expect((err as ModbusMapError).code).toBe('HW_ERR_CONFIG_INVALID');
    return (err as ModbusMapError).problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`);
  }
  throw new Error('expected the map to be refused');
}

describe('the Modbus map loader', () => {
  it('loads the Huế map with every device on a known station and defaults filled in', () => {
    const cfg = loadModbusMap(DEFAULT_MODBUS_FILE, { stations });
    expect(cfg.devices.map((d) => d.station)).toEqual(['ta-trach', 'binh-dien', 'huong-dien', 'thuong-nhat']);
    expect(cfg.devices[0]!.timeoutMs).toBe(1000);
    expect(cfg.devices[3]!.pollIntervalMs).toBe(30000);
    expect(Object.isFrozen(cfg.devices[0]!.registers[0])).toBe(true);
  });

  it('reports every problem with its line, column and key', () => {
    const text = [
      'devices:',
      '  - id: plc-x',
      '    station: nowhere',
      '    transport: { kind: tcp, host: 127.0.0.1 }',
      '    unitId: 1',
      '    registers:',
      '      - { name: level, function: holding, address: 0, type: float64 }',
      '      - { name: level2, function: holding, address: 0, colour: red }',
    ].join('\n');
    expect(problems(text)).toEqual([
      '7:61 devices[0].registers[0].type: Invalid option: expected one of "bool"|"int16"|"uint16"|"int32"|"uint32"|"float32"',
      '8:56 devices[0].registers[1].colour: unknown key',
    ]);
  });

  it('refuses a writable gate register, a duplicate name and overlapping registers, naming each line', () => {
    const text = [
      'devices:',
      '  - id: plc-x',
      '    station: nowhere',
      '    transport: { kind: tcp, host: 127.0.0.1 }',
      '    unitId: 1',
      '    registers:',
      '      - { name: gate_opening, function: holding, address: 0, metric: gate_opening, writable: true }',
    ].join('\n');
    expect(problems(text)).toEqual(['7:94 devices[0].registers[0].writable: gate registers are never writable from HueWatch (gates are operated at the dam)']);
    const text2 = [
      'devices:',
      '  - id: plc-x',
      '    station: nowhere',
      '    transport: { kind: tcp, host: 127.0.0.1 }',
      '    unitId: 1',
      '    registers:',
      '      - { name: a, function: holding, address: 0, type: float32 }',
      '      - { name: a, function: holding, address: 1 }',
    ].join('\n');
    expect(problems(text2)).toEqual([
      '3:14 devices[0].station: unknown station "nowhere"',
      '8:17 devices[0].registers[1].name: duplicate register name "a" (first used by registers[0])',
      '8:48 devices[0].registers[1].address: holding 1 is already used by "a"',
    ]);
  });
});
