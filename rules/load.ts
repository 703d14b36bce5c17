import { ErrorCode } from '../contract/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Station } from '../contract/station.ts';
import { deepFreeze, describeProblems, parseYamlSource, readSource, type SourceProblem } from '../lib/yaml-source.ts';
import { rainScale } from './rainfall.ts';
import { alertKey, anyRule, ruleFile, type RawRule, type Rule, type RuleSet } from './schema.ts';

/**
 * Loads the rule file: YAML parsed with positions kept, validated by the zod schema, cross-checked
 * against the station catalogue. Every problem is reported at once as `file:line:col path: message`
 * so a hydrologist fixes the file in one pass.
 */

export type RuleProblem = SourceProblem;

export class RuleFileError extends Error {
  readonly code = ErrorCode.RULES_INVALID;
  readonly problems: readonly RuleProblem[];
  constructor(file: string, problems: RuleProblem[]) {
    super(describeProblems('rule file', file, problems));
    this.name = 'RuleFileError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  stations: readonly Station[];
}

export function loadRuleFile(file: string, opts: LoadOptions): RuleSet {
  const source = readSource(file);
  if ('problem' in source) throw new RuleFileError(file, [source.problem]);
  return parseRuleFile(source.text, file, opts);
}

/** `file` only names the source in messages. */
export function parseRuleFile(text: string, file: string, opts: LoadOptions): RuleSet {
  const src = parseYamlSource(text, file);
  if (src.syntaxErrors.length > 0) throw new RuleFileError(file, src.syntaxErrors);
  const { data, report } = src;

  const parsed = ruleFile.safeParse(data);
  if (!parsed.success) for (const issue of parsed.error.issues) src.reportIssue(issue);

  // Cross-checks need the catalogue or the whole file; run them on every rule that parses alone.
  const rawRules = isRecord(data) && Array.isArray(data.rules) ? data.rules : [];
  const byId = new Map(opts.stations.map((s) => [s.id, s]));
  const known = () => `(known: ${[...byId.keys()].join(', ')})`;
  const ids = new Map<string, number>();
  const keys = new Map<string, string>();
  rawRules.forEach((raw: unknown, i) => {
    if (!isRecord(raw)) return;
    if (typeof raw.id === 'string') {
      const first = ids.get(raw.id);
      if (first !== undefined) report(['rules', i, 'id'], `duplicate rule id "${raw.id}" (first used by rules[${first}])`);
      else ids.set(raw.id, i);
    }
    // one station, or a list expanded into one rule per station
    const places: Array<[string, PropertyKey[]]> = [];
    if (typeof raw.station === 'string') places.push([raw.station, ['rules', i, 'station']]);
    if (Array.isArray(raw.stations)) raw.stations.forEach((s: unknown, j) => typeof s === 'string' && places.push([s, ['rules', i, 'stations', j]]));
    if ((raw.station === undefined) === (raw.stations === undefined)) report(['rules', i], 'exactly one of station, stations is required');
    if (Array.isArray(raw.conditions)) {
      raw.conditions.forEach((c: unknown, j) => {
        if (isRecord(c) && typeof c.station === 'string' && !byId.has(c.station)) report(['rules', i, 'conditions', j, 'station'], `unknown station "${c.station}" ${known()}`);
      });
    }
    // A falling level (a reservoir below its dead level) is passed from above: values decrease.
    if (raw.kind === 'level' && Array.isArray(raw.levels) && raw.levels.length >= 2) {
      const [a, b] = raw.levels as unknown[];
      if (isRecord(a) && isRecord(b) && typeof a.value === 'number' && typeof b.value === 'number') {
        const falling = raw.direction === 'falling';
        if (falling !== b.value < a.value) report(['rules', i, 'levels', 1, 'value'], `a ${falling ? 'falling' : 'rising'} rule needs ${falling ? 'decreasing' : 'increasing'} values`);
      }
    }
    const one = anyRule.safeParse(raw);
    for (const [stationId, path] of places) {
      const station = byId.get(stationId);
      if (!station) {
        report(path, `unknown station "${stationId}" ${known()}`);
        continue;
      }
      // Alarm levels are set by Decision 05/2020/QĐ-TTg and kept in the catalogue: the two must agree.
      if (raw.kind === 'level' && raw.metric === 'water_level' && Array.isArray(raw.levels)) {
        raw.levels.forEach((spec: unknown, j) => {
          if (!isRecord(spec) || typeof spec.value !== 'number') return;
          const official = station.alarmLevels[String(spec.level)];
          if (official !== undefined && Math.abs(official - spec.value) > 1e-9) {
            report(['rules', i, 'levels', j, 'value'], `alarm level ${String(spec.level)} of ${station.id} is ${official} m in the station catalogue, not ${spec.value}`);
          }
        });
      }
      // the fire index needs what only a weather station measures (temperature, humidity, rain)
      if (raw.kind === 'fire-danger' && station.kind !== 'weather') report(path, `a fire-danger rule needs a weather station; "${stationId}" is a ${station.kind} station`);
      if (!one.success) continue;
      const key = alertKey({ ...one.data, station: stationId });
      const owner = keys.get(key);
      if (owner !== undefined) report(['rules', i, 'event', 'en'], `alert key "${key}" is already used by rule "${owner}": one alert per rule and station`);
      else keys.set(key, one.data.id);
    }
  });

  if (src.problems.length > 0 || !parsed.success) throw new RuleFileError(file, src.sorted());
  return deepFreeze({ file, rules: parsed.data.rules.flatMap(expand) });
}

/**
 * `stations: [a, b]` → one rule per station, id `{id}.{station}` (one alert key each). A `rainfall`
 * rule also gets `levels`: its windows' classes on one scale (rainfall.ts `rainScale`).
 */
function expand(raw: RawRule): Rule[] {
  const { station, stations, ...rest } = raw;
  const shaped = rest.kind === 'rainfall' ? { ...rest, levels: rainScale(rest.windows) } : rest;
  if (station !== undefined) return [{ ...shaped, station } as Rule];
  return (stations ?? []).map((s) => ({ ...shaped, id: `${rest.id}.${s}`, station: s }) as Rule);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export type ReloadResult = { ok: true; rules: RuleSet } | { ok: false; error: RuleFileError };

/** Holds the rules in force; a reload with an invalid file is refused and the old rules stay. */
export interface RulesRegistry {
  readonly current: RuleSet;
  reload(): ReloadResult;
  /** Called with the new rule set after each successful reload; returns an unsubscribe function. */
  onChange(listener: (rules: RuleSet) => void): () => void;
}

export function createRulesRegistry(file: string, opts: LoadOptions & { log?: Logger }): RulesRegistry {
  let current = loadRuleFile(file, opts); // the first load throws: no rules, no engine
  const listeners = new Set<(rules: RuleSet) => void>();
  return {
    get current() {
      return current;
    },
    reload() {
      try {
        current = loadRuleFile(file, opts);
      } catch (err) {
        if (!(err instanceof RuleFileError)) throw err;
        opts.log?.error({ code: err.code, problems: err.problems }, 'rule file refused; previous rules stay in force');
        return { ok: false, error: err };
      }
      opts.log?.info({ file, rules: current.rules.length }, 'rules reloaded');
      for (const listener of listeners) {
        try {
          listener(current);
        } catch (err) {
          opts.log?.error({ err }, 'rules change listener failed');
        }
      }
      return { ok: true, rules: current };
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
