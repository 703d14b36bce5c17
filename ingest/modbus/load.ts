import { deepFreeze, describeProblems, parseYamlSource, readSource, type SourceProblem } from '../../lib/yaml-source.ts';
import { ModbusErrorCode } from './errors.ts';
import { DEFAULT_POLL, modbusFile, widthOf, type ModbusConfig, type ModbusDevice } from './schema.ts';

/**
 * Loads config/modbus.yaml the way rules/load.ts loads rule files: YAML with positions kept, the
 * zod schema, then cross-checks (stations, duplicate ids and names, overlapping registers). Every
 * problem is reported at once as `file:line:col path: message`.
 */

export type MapProblem = SourceProblem;

export class ModbusMapError extends Error {
  readonly code = ModbusErrorCode.CONFIG_INVALID;
  readonly problems: readonly MapProblem[];
  constructor(file: string, problems: MapProblem[]) {
    super(describeProblems('Modbus map', file, problems));
    this.name = 'ModbusMapError';
    this.problems = problems;
  }
}

export interface MapLoadOptions {
  /** known station ids; when given, every device must belong to one */
  stations?: readonly string[];
}

export const DEFAULT_MODBUS_FILE = new URL('../../config/modbus.yaml', import.meta.url).pathname;

export function loadModbusMap(file: string, opts: MapLoadOptions = {}): ModbusConfig {
  const source = readSource(file);
  if ('problem' in source) throw new ModbusMapError(file, [source.problem]);
  return parseModbusMap(source.text, file, opts);
}

export function parseModbusMap(text: string, file: string, opts: MapLoadOptions = {}): ModbusConfig {
  const src = parseYamlSource(text, file);
  if (src.syntaxErrors.length > 0) throw new ModbusMapError(file, src.syntaxErrors);
  const { report } = src;

  const parsed = modbusFile.safeParse(src.data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) src.reportIssue(issue);
    throw new ModbusMapError(file, src.sorted());
  }

  const stations = opts.stations ? new Set(opts.stations) : undefined;
  const ids = new Map<string, number>();
  parsed.data.devices.forEach((d, i) => {
    const first = ids.get(d.id);
    if (first !== undefined) report(['devices', i, 'id'], `duplicate device id "${d.id}" (first used by devices[${first}])`);
    else ids.set(d.id, i);
    if (stations && !stations.has(d.station)) report(['devices', i, 'station'], `unknown station "${d.station}"`);
    const names = new Map<string, number>();
    const used = new Map<string, { name: string }>(); // "table:address" → owner
    d.registers.forEach((r, j) => {
      const seen = names.get(r.name);
      if (seen !== undefined) report(['devices', i, 'registers', j, 'name'], `duplicate register name "${r.name}" (first used by registers[${seen}])`);
      else names.set(r.name, j);
      for (let a = r.address; a < r.address + widthOf(r.type); a++) {
        const owner = used.get(`${r.function}:${a}`);
        if (owner) {
          report(['devices', i, 'registers', j, 'address'], `${r.function} ${a} is already used by "${owner.name}"`);
          break;
        }
        used.set(`${r.function}:${a}`, r);
      }
    });
  });
  if (src.problems.length > 0) throw new ModbusMapError(file, src.sorted());
  const defaults = { ...DEFAULT_POLL, ...parsed.data.defaults };
  const devices: ModbusDevice[] = parsed.data.devices.map((d) => {
    const out = { ...d } as Record<string, unknown>;
    for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined) out[k] = v;
    return out as ModbusDevice;
  });
  return deepFreeze({ file, devices });
}
