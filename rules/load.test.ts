import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../contract/errors.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { createRulesRegistry, loadRuleFile, RuleFileError } from './load.ts';
import type { LevelRule, RainfallRule } from './schema.ts';

const stations = loadStations(DEFAULT_STATIONS_FILE);
const dir = mkdtempSync(join(tmpdir(), 'huewatch-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Loads a file that must fail; returns its problems as `line:col path: message` strings. */
function problemsOf(file: string): string[] {
  try {
    loadRuleFile(file, { stations });
  } catch (err) {
    expect(err).toBeInstanceOf(RuleFileError);
    const e = err as RuleFileError;
    expect(e.code).toBe(ErrorCode.RULES_INVALID);
    for (const p of e.problems) expect(e.message).toContain(`${file}:${p.line}:${p.col} ${p.path}`);
    return e.problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`);
  }
  throw new Error(`${file} loaded but should not have`);
}

const VALID = `version: 1
rules:
  - id: flood-kim-long
    kind: level
    station: kim-long
    metric: water_level
    event: { vi: Lũ, en: Flood }
    levels:
      - { level: 1, value: 1.0 }
      - { level: 2, value: 2.0, severity: Severe, instruction: { vi: "Sẵn sàng sơ tán ({value} {unit})" } }
      - { level: 3, value: 3.5 }
    hysteresis: 0.05
    holdFall: 1h30m
    expires: 6h
`;

describe('loadRuleFile', () => {
  it('loads a valid file with defaults filled in and durations in milliseconds', () => {
    const set = loadRuleFile(write('valid.yaml', VALID), { stations });
    expect(set.rules).toHaveLength(1);
    expect(set.rules[0] as LevelRule).toMatchObject({
      id: 'flood-kim-long', category: 'Met', direction: 'rising', holdRise: 0, holdFall: 90 * 60_000, expires: 6 * 3_600_000, radiusKm: 5,
    });
    expect(Object.isFrozen((set.rules[0] as LevelRule).levels)).toBe(true);
  });

  it('loads the shipped config/rules.yaml with rules for every station and reservoir of the catalogue, at its real levels', () => {
    const set = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
    const kinds = (id: string) => set.rules.filter((r) => r.station === id).map((r) => r.kind);
    for (const s of stations) {
      expect(kinds(s.id), s.id).toEqual(expect.arrayContaining(['staleness', 'sensor-fault']));
      if (s.kind === 'river') expect(kinds(s.id), s.id).toContain('rate');
      if (s.kind === 'river' && Object.keys(s.alarmLevels).length > 0) {
        const flood = set.rules.find((r): r is LevelRule => r.kind === 'level' && r.station === s.id && r.metric === 'water_level')!;
        expect(Object.fromEntries(flood.levels.map((l) => [String(l.level), l.value]))).toEqual(s.alarmLevels);
      }
      if (s.kind === 'rain') {
        // one rain rule per gauge (one alert), watching every window
        const rain = set.rules.filter((r): r is RainfallRule => r.station === s.id && r.kind === 'rainfall');
        expect(rain, s.id).toHaveLength(1);
        expect(rain[0]!.windows.map((w) => w.window / 3_600_000).sort((a, b) => a - b)).toEqual([1, 3, 6, 12, 24]);
        expect(set.rules.filter((r) => r.station === s.id && r.kind === 'accumulation')).toEqual([]);
      }
      if (s.kind === 'air') expect(kinds(s.id)).toContain('aqi');
      if (s.kind === 'reservoir') expect(kinds(s.id)).toEqual(expect.arrayContaining(['level', 'composite', 'release']));
    }
    const reservoir = (id: string) => set.rules.find((r): r is LevelRule => r.kind === 'level' && r.station === id && r.direction === 'rising')!.levels.map((l) => l.value);
    expect(reservoir('ta-trach')).toEqual([45.0, 50.0]); // normal and design flood levels
    expect(reservoir('huong-dien')).toEqual([58.0]);
    expect(set.rules.find((r): r is LevelRule => r.kind === 'level' && r.station === 'binh-dien' && r.direction === 'falling')!.levels[0]!.value).toBe(53.0);
  });

  it('refuses a falling rule whose values rise, and a rule with both station and stations', () => {
    const file = write('falling.yaml', VALID.replace('metric: water_level', 'metric: water_level\n    direction: falling').replace('station: kim-long', 'station: kim-long\n    stations: [kim-long]'));
    expect(problemsOf(file)).toEqual([
      '3:5 rules[0]: exactly one of station, stations is required',
      '9:26 rules[0].event.en: alert key "flood:kim-long" is already used by rule "flood-kim-long": one alert per rule and station',
      '12:28 rules[0].levels[1].value: a falling rule needs decreasing values',
    ]);
  });

  it('names file, line, column and key path for every problem of a file, not only the first', () => {
    const file = write('types.yaml', VALID
      .replace('value: 2.0,', 'value: "two",')
      .replace('holdFall: 1h30m', 'holdFall: soon\n    colour: red')
      .replace('event: { vi: Lũ, en: Flood }', 'event: { vi: Lũ }'));
    expect(problemsOf(file)).toEqual([
      '7:12 rules[0].event.en: required (expected string)',
      '10:28 rules[0].levels[1].value: expected number, received string',
      '13:15 rules[0].holdFall: expected a duration such as 30s, 15m, 1h (units ms, s, m, h, d)',
      '14:5 rules[0].colour: unknown key',
    ]);
  });

  it('rejects levels that do not increase, an unknown metric and an unknown template placeholder', () => {
    const file = write('levels.yaml', VALID
      .replace('metric: water_level', 'metric: water_levle')
      .replace('{ level: 3, value: 3.5 }', '{ level: 3, value: 1.5 }')
      .replace('({value} {unit})', '({valeur})'));
    expect(problemsOf(file)).toEqual([
      '6:13 rules[0].metric: unknown metric "water_levle"',
      '10:70 rules[0].levels[1].instruction.vi: unknown placeholder {valeur} (known: event, station, river, area, metric, value, unit, threshold, level, levelName, trend, time, window, category, windows)',
      '11:28 rules[0].levels[2].value: values must be strictly increasing: 1.5 after 2',
    ]);
  });

  it('refuses a fire-danger rule on a station that is not a weather station', () => {
    const file = write('fire.yaml', ['version: 1', 'rules:', '  - id: fire', '    kind: fire-danger', '    station: kim-long', '    event: { vi: Nguy cơ cháy rừng, en: Forest fire danger }', '    levels: [{ level: 4, value: 5001 }]', ''].join('\n'));
    expect(problemsOf(file)).toEqual(['5:14 rules[0].station: a fire-danger rule needs a weather station; "kim-long" is a river station']);
  });

  it('rejects an unknown station, a duplicate id and alarm levels that contradict the station catalogue', () => {
    const second = VALID.split('\n').slice(2).join('\n');
    const file = write('cross.yaml', VALID.replace('station: kim-long', 'station: kim-lung') + second.replace('value: 3.5', 'value: 3.6'));
    expect(problemsOf(file)).toEqual([
      '5:14 rules[0].station: unknown station "kim-lung" (known: kim-long, phu-oc, thuong-nhat, phong-binh, cau-truoi, rg-hue, rg-nam-dong, rg-a-luoi, rg-bach-ma, rg-thuong-nhat, rg-huong-phu, aq-hue-center, aq-phu-bai, ta-trach, binh-dien, huong-dien, a-luoi, ws-a-luoi, ws-nam-dong, ws-bach-ma, ws-phong-dien)',
      '15:9 rules[1].id: duplicate rule id "flood-kim-long" (first used by rules[0])',
      '23:28 rules[1].levels[2].value: alarm level 3 of kim-long is 3.5 m in the station catalogue, not 3.6',
    ]);
  });

  it('rejects two rules that would share one alert key', () => {
    const second = VALID.split('\n').slice(2).join('\n').replace('id: flood-kim-long', 'id: flood-kim-long-2');
    expect(problemsOf(write('keys.yaml', VALID + second))).toEqual([
      '19:26 rules[1].event.en: alert key "flood:kim-long" is already used by rule "flood-kim-long": one alert per rule and station',
    ]);
  });

  it('reports YAML syntax errors with their line and column', () => {
    expect(problemsOf(write('quote.yaml', VALID.replace('station: kim-long', 'station: "kim-long')))).toEqual(['5:23 : YAML Missing closing "quote']);
    expect(problemsOf(write('dupkey.yaml', VALID.replace('    hysteresis: 0.05', '    hysteresis: 0.05\n    hysteresis: 0.1')))).toEqual(['13:5 : YAML Map keys must be unique']);
    // one tab derails the rest of the document: the first problem is the one to fix
    expect(problemsOf(write('tab.yaml', VALID.replace('\n    kind', '\n\tkind')))[0]).toBe('4:1 : YAML Tabs are not allowed as indentation');
  });

  it('reports an empty file and a missing file as rule file errors', () => {
    expect(problemsOf(write('empty.yaml', ''))).toEqual(['1:1 : expected object, received null']);
    expect(problemsOf(join(dir, 'missing.yaml'))[0]).toMatch(/^1:1 : cannot read: ENOENT/);
  });
});

describe('createRulesRegistry', () => {
  it('refuses a reload with an invalid file and keeps the previous rules in force', () => {
    const file = write('live.yaml', VALID);
    const registry = createRulesRegistry(file, { stations });
    const seen: number[] = [];
    registry.onChange((set) => seen.push((set.rules[0] as LevelRule).holdFall));
    const before = registry.current;

    writeFileSync(file, VALID.replace('holdFall: 1h30m', 'holdFall: forever'));
    const refused = registry.reload();
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe(ErrorCode.RULES_INVALID);
    expect(registry.current).toBe(before);

    writeFileSync(file, VALID.replace('holdFall: 1h30m', 'holdFall: 20m'));
    expect(registry.reload().ok).toBe(true);
    expect((registry.current.rules[0] as LevelRule).holdFall).toBe(20 * 60_000);
    expect(seen).toEqual([20 * 60_000]);
  });
});
