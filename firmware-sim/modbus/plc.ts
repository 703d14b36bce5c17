import type { MetricName } from '../../contract/metrics.ts';
import { encodeValue } from '../../ingest/modbus/decode.ts';
import { widthOf, type ModbusDevice, type RegisterFunction, type RegisterSpec } from '../../ingest/modbus/schema.ts';
import type { Station } from '../../contract/station.ts';
import { loadStations, DEFAULT_STATIONS_FILE } from '../../lib/stations.ts';
import { resolveScenario, riverLevel, sample, scenarioShape, type ScenarioName, type ScenarioParams } from '../scenarios.ts';
import { emptyBank, type RegisterBank } from './pdu.ts';

/**
 * A simulated PLC or RTU behind the register map of config/modbus.yaml: the bank holds exactly
 * the registers the map declares (anything else is exception 2, ILLEGAL_DATA_ADDRESS, as on a real
 * device), writable registers are the map's `writable` ones, and values follow the firmware-sim
 * scenarios (calm, flood) as pure functions of simulated time.
 */

export interface PlcSim {
  device: ModbusDevice;
  bank: RegisterBank;
  /** set every mapped register from the scenario at simulated second `t` */
  update(t: number): void;
  /** write an engineering value into a register, encoded as the map says */
  set(name: string, value: number): void;
}

export interface PlcSimOptions {
  scenario?: ScenarioName;
  params?: ScenarioParams;
  stations?: readonly Station[];
}

/**
 * Like a PLC's memory area, each table is contiguous from its lowest to its highest mapped
 * address (unmapped words in between read 0, so the poller may bridge gaps); outside it, exception 2.
 */
export function bankFor(device: ModbusDevice): RegisterBank {
  const bank = emptyBank();
  const span = new Map<string, { lo: number; hi: number }>();
  for (const r of device.registers) {
    const width = widthOf(r.type);
    const s = span.get(r.function) ?? { lo: r.address, hi: r.address };
    span.set(r.function, { lo: Math.min(s.lo, r.address), hi: Math.max(s.hi, r.address + width - 1) });
    if (r.writable) for (let i = 0; i < width; i++) bank.writable.add(`${r.function}:${r.address + i}`);
  }
  for (const [fn, { lo, hi }] of span) for (let a = lo; a <= hi; a++) bank.tables[fn as RegisterFunction].set(a, 0);
  return bank;
}

export function writeValue(bank: RegisterBank, r: RegisterSpec, value: number): void {
  encodeValue(value, r).forEach((w, i) => bank.tables[r.function].set(r.address + i, w));
}

export function createPlcSim(device: ModbusDevice, opts: PlcSimOptions = {}): PlcSim {
  const bank = bankFor(device);
  const scenario = opts.scenario ?? 'calm';
  const params = opts.params ?? resolveScenario();
  const station = (opts.stations ?? loadStations(DEFAULT_STATIONS_FILE)).find((s) => s.id === device.station);
  const byName = new Map(device.registers.map((r) => [r.name, r]));
  const set = (name: string, value: number) => {
    const r = byName.get(name);
    if (r) writeValue(bank, r, value);
  };
  set('reporting_interval_s', 60);

  function metrics(t: number): Partial<Record<MetricName | 'uptime_s', number>> {
    if (!station) return {};
    if (station.kind === 'river') {
      return { water_level: round(riverLevel(station, scenario, t, params), 2), battery_v: 12.6 };
    }
    // Reservoir: inflow and outflow from the shared scenario; the level rises with the flood
    // towards (never above) normal level + 2 m; the spillway carries what the turbines cannot.
    const q = sample(station, scenario, t, 60, params);
    const inflow = q.inflow ?? 30;
    const outflow = q.outflow ?? 30;
    const normal = (station as Station & { normal_level_m?: number }).normal_level_m ?? NORMAL_LEVEL[station.id] ?? 50;
    const shape = scenarioShape(scenario, t, params);
    const spillway = Math.max(0, outflow - TURBINE_M3S);
    return {
      reservoir_level: round(normal - 1.5 + 3.5 * shape, 3),
      inflow,
      outflow,
      spillway,
      gate_opening: round(Math.min(12, spillway / 120), 2),
      uptime_s: Math.floor(t),
    };
  }

  return {
    device,
    bank,
    set,
    update(t: number) {
      const m = metrics(t);
      for (const r of device.registers) {
        if (r.metric && m[r.metric] !== undefined) writeValue(bank, r, m[r.metric]!);
      }
      if (m.uptime_s !== undefined) set('uptime_s', m.uptime_s);
      const gate = m.gate_opening ?? 0;
      for (let g = 1; g <= 5; g++) set(`gate_${g}_opening`, g <= 3 ? gate : 0); // three gates open in a flood
      set('gates_moving', 0);
    },
  };
}

/** Normal water levels (m a.s.l.) from config/hue-stations.json, for stations loaded without them. */
const NORMAL_LEVEL: Record<string, number> = { 'ta-trach': 45, 'binh-dien': 85, 'huong-dien': 58, 'a-luoi': 553 };
/** Turbine discharge before the spillway opens, an assumption for the simulator (m³/s). */
const TURBINE_M3S = 150;

function round(x: number, d: number): number {
  return Number(x.toFixed(d));
}
