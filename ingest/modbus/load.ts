import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { formatPath } from '../../rules/load.ts';
import { ModbusErrorCode } from './errors.ts';
import { DEFAULT_POLL, modbusFile, widthOf, type ModbusConfig, type ModbusDevice } from './schema.ts';

/**
 * Loads config/modbus.yaml the way rules/load.ts loads rule files: YAML with positions kept, the
 * zod schema, then cross-checks (stations, duplicate ids and names, overlapping registers). Every
 * problem is reported at once as `file:line:col path: message`.
 */

export interface MapProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export class ModbusMapError extends Error {
  readonly code = ModbusErrorCode.CONFIG_INVALID;
  readonly problems: readonly MapProblem[];
  constructor(file: string, problems: MapProblem[]) {
    const lines = problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path ? p.path + ': ' : ''}${p.message}`);
    super(`invalid Modbus map ${file} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModbusMapError(file, [{ file, line: 1, col: 1, path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseModbusMap(text, file, opts);
}

export function parseModbusMap(text: string, file: string, opts: MapLoadOptions = {}): ModbusConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const at = (offset: number, path: string, message: string): MapProblem => ({ file, ...lineCounter.linePos(offset), path, message });
  if (doc.errors.length > 0) {
    throw new ModbusMapError(file, doc.errors.map((e) => at(e.pos[0], '', `YAML ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`)));
  }
  const problems: MapProblem[] = [];
  const report = (path: PropertyKey[], message: string, wantKey = false) => problems.push(at(locate(doc, path, wantKey), formatPath(path), message));

  const parsed = modbusFile.safeParse(doc.toJS());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) reportIssue(issue, report);
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ModbusMapError(file, problems);
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
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ModbusMapError(file, problems);
  }
  const defaults = { ...DEFAULT_POLL, ...parsed.data.defaults };
  const devices: ModbusDevice[] = parsed.data.devices.map((d) => {
    const out = { ...d } as Record<string, unknown>;
    for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined) out[k] = v;
    return out as ModbusDevice;
  });
  return deepFreeze({ file, devices });
}

function reportIssue(issue: z.core.$ZodIssue, report: (path: PropertyKey[], message: string, wantKey?: boolean) => void): void {
  if (issue.code === 'unrecognized_keys') {
    for (const key of issue.keys) report([...issue.path, key], 'unknown key', true);
    return;
  }
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && /received undefined$/.test(message)) message = `required (${message.replace(/, received undefined$/, '')})`;
  report(issue.path, message);
}

/** Offset of the node at `path`, or of the deepest node that exists on the way (a missing key). */
function locate(doc: Document, path: PropertyKey[], wantKey: boolean): number {
  let node: Node | null = doc.contents;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node | null;
      if (i === path.length - 1 && wantKey) return keyNode?.range?.[0] ?? offset;
      node = (pair.value as Node | null) ?? null;
      offset = node?.range?.[0] ?? keyNode?.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = (node.items[seg] as Node | undefined) ?? null;
      offset = node?.range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}
