import { describe, expect, it } from 'vitest';
import type { Observation } from '../contract/obs.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { toCap } from '../delivery/cap.ts';
import { buildRuleEvent } from './alerts.ts';
import { evaluateRule } from './dispatch.ts';
import { loadRuleFile } from './load.ts';
import { initialLevelState, type LevelState } from './level.ts';
import { loadStandards } from './standards.ts';
import type { RainfallRule, Rule, SensorFaultRule } from './schema.ts';
import { WindowSet, indexRules } from './rule-index.ts';

/** The `rainfall` kind (one alert per gauge at the worst class across windows) and the sensor-fault words. */

const T0 = Date.parse('2025-11-02T00:00:00Z');
const MIN = 60_000;
const stations = loadStations(DEFAULT_STATIONS_FILE);
const set = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
const ruleById = <R extends Rule>(id: string) => set.rules.find((r) => r.id === id) as R;
const station = (id: string) => stations.find((s) => s.id === id)!;
const standards = loadStandards();

const obsOf = (stationId: string, metric: string, ts: number, value: number, quality: 'ok' | 'out_of_range' = 'ok'): Observation =>
  ({ station: stationId, device: `${stationId}-1`, ts, seq: 1, values: [{ metric, value, unit: 'x', quality }] }) as Observation;

describe('rainfall: one alert per gauge at the worst class across its windows', () => {
  it('ranks every window class on one scale: by CAP severity, then by the window level; equal classes share a rank', () => {
    const rain = ruleById<RainfallRule>('rain.rg-nam-dong');
    expect(rain.levels.map((l) => `${l.level} ${l.severity} ${l.window / 3_600_000}h L${l.windowLevel} ${l.name?.vi}`)).toEqual([
      '1 Minor 24h L1 Mưa vừa',
      '2 Moderate 24h L2 Mưa to',
      '3 Severe 6h L1 Mưa cường độ lớn (6 giờ)',
      '4 Severe 24h L3 Mưa rất to',
      '5 Severe 24h L4 Mưa rất to (nguy cơ lũ quét)',
      '6 Extreme 3h L2 Mưa cường độ rất lớn (3 giờ)',
      '7 Extreme 24h L5 Mưa đặc biệt to (nguy cơ lũ quét cao)',
    ]);
  });

  it('raises once, updates as the worst class changes (keeping each window\'s hysteresis and holdFall), ends when every window is below', () => {
    const rain = ruleById<RainfallRule>('rain.rg-nam-dong');
    const index = indexRules([rain]);
    const windows = new WindowSet(index.needs);
    let state: LevelState = initialLevelState();
    let open: ReturnType<typeof buildRuleEvent> | null = null;
    const got: string[] = [];
    const events: NonNullable<ReturnType<typeof buildRuleEvent>>[] = [];
    // 10 mm every 10 min for an hour, then dry for 25 h
    for (let m = 10; m <= 1500; m += 10) {
      const obs = obsOf('rg-nam-dong', 'rainfall', T0 + m * MIN, m <= 60 ? 10 : 0);
      windows.add(obs);
      const out = evaluateRule(rain, state, obs, { standards, windowOf: windows.windowOf }, obs.ts)!;
      state = out.result.state;
      const t = out.result.transition;
      if (!t) continue;
      const ev = buildRuleEvent(rain, station('rg-nam-dong'), out, open, obs.ts);
      if (!ev) continue;
      events.push(ev);
      open = ev.msgType === 'Cancel' ? null : ev;
      got.push(`${m} ${ev.msgType} #${ev.eventSeq} L${ev.level} ${ev.levelName?.vi ?? '-'} ${ev.source.value}/${ev.source.threshold} ${ev.severity}`);
    }
    expect(got).toEqual([
      '10 Alert #1 L1 Mưa vừa 10/8 Minor', // 12 h: 10 mm ≥ 8
      '30 Update #2 L2 Mưa to 30/26 Moderate', // 12 h: ≥ 26
      '50 Update #3 L3 Mưa cường độ lớn (1 giờ) 50/50 Severe', // 1 h: 50 mm ≥ 50, worse than "mưa to"
      '60 Update #4 L4 Mưa rất to 60/50.01 Severe', // 12 h: > 50 mm; the 1 h class (rank 3) is now the lesser
      // the 12 h sum leaves 50 mm − hysteresis at 740 and holds 30 min: the 24 h "mưa to" is the worst left
      '770 Update #5 L2 Mưa to 60/51 Moderate',
      // 24 h: below 51 − 2 at 1460, below 16 − 2 at 1490, after 30 min of falling: every window is below
      '1490 Cancel #6 L0 - 10/16 Minor',
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(1);
    expect(new Set(events.map((e) => e.key))).toEqual(new Set(['heavy-rain:rg-nam-dong']));
    // the windows stay visible inside the one alert
    expect(events[3]!.windows).toEqual([
      { window: '24h', sum: 60, level: 2, name: { vi: 'Mưa to', en: 'Heavy rain' }, threshold: 51 },
      { window: '12h', sum: 60, level: 3, name: { vi: 'Mưa rất to', en: 'Very heavy rain' }, threshold: 50.01 },
      { window: '6h', sum: 60, level: 0 },
      { window: '3h', sum: 60, level: 0 },
      { window: '1h', sum: 60, level: 1, name: { vi: 'Mưa cường độ lớn (1 giờ)', en: 'Intense rain (1 h)' }, threshold: 50 },
    ]);
    expect(events[3]!.headline).toEqual({ vi: 'Mưa rất to: 60,0 mm trong 12 giờ tại Nam Đông', en: 'Very heavy rain: 60.0 mm in 12 h at Nam Đông' });
    expect(events[3]!.description.vi).toContain('1 giờ 60,0 mm (Mưa cường độ lớn (1 giờ)); 3 giờ 60,0 mm; 6 giờ 60,0 mm; 12 giờ 60,0 mm (Mưa rất to); 24 giờ 60,0 mm (Mưa to)');
    // and in its CAP message, one <parameter> per window
    const cap = toCap(events[3]!, events.slice(0, 4));
    expect(cap).toMatch(/<valueName>huewatch:rain:12h<\/valueName>\s*<value>60 mm; 3; Mưa rất to<\/value>/);
    expect(cap).toMatch(/<valueName>huewatch:rain:6h<\/valueName>\s*<value>60 mm; 0<\/value>/);
    expect(cap).toMatch(/<valueName>huewatch:levelName<\/valueName>\s*<value>Very heavy rain<\/value>/);
    expect(events[3]!.description.en).toContain('1 h 60.0 mm (Intense rain (1 h)); 3 h 60.0 mm; 6 h 60.0 mm; 12 h 60.0 mm (Very heavy rain); 24 h 60.0 mm (Heavy rain)');
  });

  it('ignores a late reading and an out-of-range one without moving any window', () => {
    const rain = ruleById<RainfallRule>('rain.rg-hue');
    const windows = new WindowSet(indexRules([rain]).needs);
    const ctx = { standards, windowOf: windows.windowOf };
    const first = obsOf('rg-hue', 'rainfall', T0 + 10 * MIN, 9);
    windows.add(first);
    const a = evaluateRule(rain, initialLevelState(), first, ctx, first.ts)!;
    expect(a.result.transition).toMatchObject({ kind: 'raise', to: 1 });
    expect(evaluateRule(rain, a.result.state, obsOf('rg-hue', 'rainfall', T0 + 5 * MIN, 90), ctx, first.ts)!.result.ignored).toBe('late');
    const bad = evaluateRule(rain, a.result.state, obsOf('rg-hue', 'rainfall', T0 + 20 * MIN, 900, 'out_of_range'), ctx, first.ts)!;
    expect(bad.result).toMatchObject({ ignored: 'quality', state: { level: 1 } });
    expect(bad.result.transition).toBeUndefined();
  });
});

describe('sensor-fault words', () => {
  it('the headline gives the raw reading that was out of range and the range it left, not the fault flag', () => {
    const rule = ruleById<SensorFaultRule>('sensor-fault.kim-long');
    const obs = obsOf('kim-long', 'water_level', T0, 150, 'out_of_range');
    const out = evaluateRule(rule, initialLevelState(), obs, { standards, windowOf: () => [] }, T0)!;
    const ev = buildRuleEvent(rule, station('kim-long'), out, null, T0)!;
    expect(ev.headline).toEqual({
      vi: 'Cảm biến mực nước tại trạm Kim Long báo giá trị bất thường: 150,00 m',
      en: 'Sensor fault: water level at Kim Long reads 150.00 m',
    });
    expect(ev.description.en).toContain('read 150.00 m, outside its physical range');
    expect(ev.source).toMatchObject({ metric: 'water_level', value: 150, threshold: 100 });
    expect(ev.levelName).toEqual({ vi: 'Lỗi cảm biến', en: 'Sensor fault' });
  });

  it('every alert carries its own level name from the rule file: flood alarm levels, rain classes, reservoir levels', () => {
    const name = (id: string, stationId: string, metric: string, value: number) => {
      const rule = ruleById<Rule>(id);
      const windows = new WindowSet(indexRules([rule]).needs);
      const obs = obsOf(stationId, metric, T0, value);
      windows.add(obs);
      const out = evaluateRule(rule, initialLevelState(), obs, { standards, windowOf: windows.windowOf }, T0)!;
      return buildRuleEvent(rule as Exclude<Rule, { kind: 'release' }>, station(stationId), out, null, T0)!.levelName;
    };
    expect(name('flood-kim-long', 'kim-long', 'water_level', 2.1)).toEqual({ vi: 'Báo động 2', en: 'alarm level 2' });
    expect(name('rain.rg-hue', 'rg-hue', 'rainfall', 30)).toEqual({ vi: 'Mưa to', en: 'Heavy rain' });
    expect(name('reservoir-ta-trach', 'ta-trach', 'reservoir_level', 46)).toEqual({ vi: 'mực nước dâng bình thường', en: 'the normal water level' });
  });
});
