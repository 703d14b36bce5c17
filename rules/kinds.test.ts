import { describe, expect, it } from 'vitest';
import type { Observation } from '../contract/obs.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../platform/stations.ts';
import { evaluateAccumulation } from './accumulation.ts';
import { category, dailyAqi, nowcast, subIndex } from './aqi.ts';
import { evaluateAqi } from './aqi-rule.ts';
import { evaluateComposite } from './composite.ts';
import { evaluateLevel, initialLevelState, type LevelState } from './level.ts';
import { loadRuleFile } from './load.ts';
import { evaluateRate } from './rate.ts';
import type { AccumulationRule, AqiRule, RainfallRule, CompositeRule, LevelRule, RateRule, Rule, SensorFaultRule, StalenessRule } from './schema.ts';
import { evaluateSensorFault } from './sensor-fault.ts';
import { stalenessSeen, stalenessTick } from './staleness.ts';
import { loadStandards } from './standards.ts';
import { push, type Sample, type Window } from './window.ts';

const T0 = Date.parse('2025-11-02T00:00:00Z');
const MIN = 60_000;
const H = 60 * MIN;
const stations = loadStations(DEFAULT_STATIONS_FILE);
const set = loadRuleFile(new URL('../config/rules.yaml', import.meta.url).pathname, { stations });
const rule = <K extends Rule['kind']>(id: string) => set.rules.find((r) => r.id === id) as Extract<Rule, { kind: K }>;
const standards = loadStandards();
const table = standards.vn_aqi.breakpoints;

describe('level rules falling below a level', () => {
  it('a reservoir sinking below its dead level raises once and ends only back above it plus hysteresis after the hold', () => {
    const dead = rule<'level'>('dead-level-binh-dien') as LevelRule; // 53.0 m, hysteresis 0.2, holdFall 1h
    let state: LevelState = initialLevelState();
    const kinds: string[] = [];
    for (const [minute, value] of [[0, 54], [60, 53.1], [120, 52.9], [180, 53.1], [240, 53.3], [280, 53.3], [300, 53.4]] as const) {
      const res = evaluateLevel(dead, state, { ts: T0 + minute * MIN, value, quality: 'ok' });
      state = res.state;
      if (res.transition) kinds.push(`${res.transition.kind}@${minute}:${res.transition.trend}`);
    }
    // 53.1 is inside the hysteresis band (53.2): the alert holds; from 53.3 at 240 for 1 h it ends at 300.
    expect(kinds).toEqual(['raise@120:falling', 'resolve@300:rising']);
  });
});

describe('rate of rise', () => {
  it('Phong Bình, which has no alarm levels, raises when the river rises 0.5 m within an hour, and ignores a late reading', () => {
    const r = rule<'rate'>('rise.phong-binh') as RateRule;
    const w: Window = [];
    let state = initialLevelState();
    const out: string[] = [];
    for (const [minute, value] of [[0, 1.0], [20, 1.2], [40, 1.45], [50, 1.62], [70, 1.7]] as const) {
      push(w, { ts: T0 + minute * MIN, value }, r.window);
      const res = evaluateRate(r, state, w, { ts: T0 + minute * MIN, value, quality: 'ok' });
      state = res.state;
      if (res.transition) out.push(`${res.transition.kind} ${res.transition.to} rise ${res.transition.value}`);
    }
    expect(out).toEqual(['raise 1 rise 0.62']); // 1.62 − 1.00 within 50 min
    const late = evaluateRate(r, state, w, { ts: T0 + 10 * MIN, value: 9, quality: 'ok' });
    expect(late.ignored).toBe('late');
  });
});

describe('rain accumulations over rolling windows', () => {
  it('sums mm-in-the-interval readings over (t − window, t], classifies them by the 24 h and 12 h classes and the 3 h intensity warning', () => {
    // one window of the shipped `rainfall` rule as an `accumulation` rule of its own
    const rain = rule<'rainfall'>('rain.rg-nam-dong') as RainfallRule;
    const windowRule = (hours: number) => {
      const w = rain.windows.find((x) => x.window === hours * H)!;
      return { ...rain, kind: 'accumulation', window: w.window, levels: w.levels } as unknown as AccumulationRule;
    };
    const [r24, r12, r3] = [windowRule(24), windowRule(12), windowRule(3)];
    const w: Window = [];
    // 10 mm at exactly t − 24 h belongs to the interval before the window; then 2 mm every 5 min for 3 h.
    push(w, { ts: T0, value: 10 }, 24 * H);
    const end = T0 + 24 * H;
    for (let t = end - 3 * H + 5 * MIN; t <= end; t += 5 * MIN) push(w, { ts: t, value: 2 }, 24 * H);
    const reading = { ts: end, value: 2, quality: 'ok' as const };
    const at = (r: AccumulationRule) => evaluateAccumulation(r, initialLevelState(), w, reading).transition;
    expect(at(r24)).toMatchObject({ to: 2, value: 72, threshold: 51 }); // 36 × 2 mm = 72 mm: "mưa to" (51–100)
    expect(at(r12)).toMatchObject({ to: 3, value: 72, threshold: 50.01 }); // > 50 mm in 12 h: "mưa rất to"
    expect(at(r3)).toBeUndefined(); // 72 mm < 100 mm in 3 h
    push(w, { ts: end + 5 * MIN, value: 40 }, 24 * H);
    expect(evaluateAccumulation(r3, initialLevelState(), w, { ts: end + 5 * MIN, value: 40, quality: 'ok' }).transition).toMatchObject({ to: 1, value: 110 }); // 72 − 2 (left the window) + 40
  });
});

describe('VN_AQI (Decision 1459/QĐ-TCMT) against worked examples of the official method', () => {
  it('sub-indices follow AQI = (I_{i+1} − I_i)/(BP_{i+1} − BP_i) × (C − BP_i) + I_i', () => {
    // PM2.5 40: segment 25–50 → 50–100: 50/25 × (40 − 25) + 50 = 2 × 15 + 50 = 80 (the file's worked example)
    expect(subIndex(table, 'pm25', 40)).toBe(80);
    // PM10 200: segment 150–250 → 100–150: 50/100 × (200 − 150) + 100 = 125
    expect(subIndex(table, 'pm10', 200)).toBe(125);
    // CO 12 000: segment 10 000–30 000 → 50–100: 50/20 000 × 2 000 + 50 = 55
    expect(subIndex(table, 'co', 12_000)).toBe(55);
    // NO2 1 000: segment 700–1 200 → 150–200: 50/500 × 300 + 150 = 180
    expect(subIndex(table, 'no2', 1_000)).toBe(180);
    expect(category(standards.vn_aqi.categories, 80)).toMatchObject({ name: 'moderate', vi: 'Trung bình', rgb: [255, 255, 0] });
  });

  it('NowCast weights the latest hours: w = max(c_min/c_max, ½), and needs 2 of the 3 latest hours', () => {
    // [60, 40, 30]: w* = 30/60 = 0.5 → w = 0.5; (60 + 0.5·40 + 0.25·30) / (1 + 0.5 + 0.25) = 87.5 / 1.75 = 50
    expect(nowcast([60, 40, 30])).toBe(50);
    // [40, 36, 32, 30]: w = 30/40 = 0.75; (40 + 27 + 18 + 12.65625) / (1 + .75 + .5625 + .421875) = 97.65625 / 2.734375 = 250/7
    expect(nowcast([40, 36, 32, 30])).toBeCloseTo(250 / 7, 10);
    // → PM2.5 sub-index 2 × (35.714 − 25) + 50 = 71.43 → 71
    expect(Math.round(subIndex(table, 'pm25', 250 / 7)!)).toBe(71);
    expect(nowcast([40, undefined, undefined, 30])).toBeUndefined();
  });

  it('the daily index uses the 1-hour O3 index when the 8-hour O3 is above 400 µg/m³, and the largest sub-index wins', () => {
    // O3 8 h 450: no segment above 400 → dropped; O3 1 h 450: 400–800 → 200–300: 100/400 × 50 + 200 = 212.5 → 213
    // PM2.5 24 h 30: 2 × (30 − 25) + 50 = 60
    const d = dailyAqi(table, { pm25: 30, o3_8h_max: 450, o3_1h_max: 450 });
    expect(d).toEqual({ aqi: 213, dominant: 'o3_1h', subIndices: { pm25: 60, o3_1h: 213 } });
    expect(category(standards.vn_aqi.categories, d!.aqi)).toMatchObject({ name: 'very bad', vi: 'Rất xấu', rgb: [143, 63, 151] });
    expect(dailyAqi(table, { o3_1h_max: 450 })).toBeUndefined(); // no PM: no VN_AQI
  });

  it('an air station alerts by category from "poor": hourly PM2.5 of 160, 120 and 100 µg/m³ gives AQI 190, "bad"', () => {
    // w = 100/160 = 0.625; (160 + 0.625·120 + 0.390625·100) / (1 + 0.625 + 0.390625) = 274.0625 / 2.015625 = 135.969
    // 80–150 → 150–200: 50/70 × (135.969 − 80) + 150 = 189.98 → 190
    const r = rule<'aqi'>('air.aq-hue-center') as AqiRule;
    const now = T0 + 2 * H + 30 * MIN;
    const pm25: Sample[] = [{ ts: T0 + 10 * MIN, value: 100 }, { ts: T0 + H + 10 * MIN, value: 120 }, { ts: T0 + 2 * H + 5 * MIN, value: 150 }, { ts: now, value: 170 }];
    const res = evaluateAqi(r, standards, initialLevelState(), (m) => (m === 'pm25' ? pm25 : []), now);
    expect(res.aqi?.aqi).toBe(190);
    expect(res.category).toMatchObject({ name: 'bad', vi: 'Xấu' });
    expect(res.transition).toMatchObject({ kind: 'raise', to: 2, threshold: 151 });
  });
});

describe('staleness and sensor faults', () => {
  it('with fake timers, a station silent longer than its interval goes offline once, and a fresh reading ends it but an old flush does not', async () => {
    const { vi } = await import('vitest');
    vi.useFakeTimers({ now: T0 });
    try {
      const r = rule<'staleness'>('offline.kim-long') as StalenessRule; // 30 min
      let state = stalenessSeen(r, initialLevelState(), T0, Date.now()).state;
      const raised: number[] = [];
      const timer = setInterval(() => {
        const res = stalenessTick(r, state, Date.now());
        state = res.state;
        if (res.transition) raised.push((Date.now() - T0) / MIN);
      }, MIN);
      vi.advanceTimersByTime(29 * MIN);
      expect(raised).toEqual([]);
      vi.advanceTimersByTime(10 * MIN);
      clearInterval(timer);
      expect(raised).toEqual([31]); // the first tick past 30 min of silence, and only once
      expect(stalenessSeen(r, state, T0 + 5 * MIN, Date.now()).transition).toBeUndefined(); // a store-and-forward flush of old readings
      expect(stalenessSeen(r, state, Date.now() - MIN, Date.now()).transition).toMatchObject({ kind: 'resolve', to: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('an out-of-range value raises a sensor fault and never a hazard alert', () => {
    const fault = rule<'sensor-fault'>('sensor-fault.kim-long') as SensorFaultRule;
    const flood = rule<'level'>('flood-kim-long') as LevelRule;
    const obs: Observation = { station: 'kim-long', device: 'kl-1', ts: T0, values: [{ metric: 'water_level', value: 150, unit: 'm', quality: 'out_of_range' }] };
    expect(evaluateSensorFault(fault, initialLevelState(), obs)?.transition).toMatchObject({ kind: 'raise', to: 1 });
    expect(evaluateLevel(flood, initialLevelState(), { ts: T0, value: 150, quality: 'out_of_range' })).toMatchObject({ ignored: 'quality' });
  });
});

describe('composite rules', () => {
  const windows = new Map<string, Sample[]>();
  const windowOf = (s: string, m: string) => windows.get(`${s}/${m}`) ?? [];
  const at = (s: string, m: string, samples: Array<[number, number]>) => windows.set(`${s}/${m}`, samples.map(([minute, value]) => ({ ts: T0 + minute * MIN, value })));

  it('AND: Tả Trạch above its normal level while its inflow rises 200 m³/s within an hour', () => {
    const r = rule<'composite'>('reservoir-full-inflow-rising') as CompositeRule;
    at('ta-trach', 'reservoir_level', [[0, 45.2]]);
    at('ta-trach', 'inflow', [[0, 800], [30, 900]]);
    expect(evaluateComposite(r, initialLevelState(), windowOf, T0 + 30 * MIN)).toMatchObject({ held: [true, false] });
    at('ta-trach', 'inflow', [[0, 800], [30, 900], [50, 1050]]);
    expect(evaluateComposite(r, initialLevelState(), windowOf, T0 + 50 * MIN)).toMatchObject({ held: [true, true], transition: { kind: 'raise' } });
    // a reading older than maxAge (1 h) is not evidence
    expect(evaluateComposite(r, initialLevelState(), windowOf, T0 + 125 * MIN).held).toEqual([false, false]);
  });

  it('OR: any condition suffices, and the Decision 1606 flood-cutting rule follows Kim Long past alarm level 2', () => {
    const any = { ...(rule<'composite'>('reservoir-full-inflow-rising') as CompositeRule), op: 'any' as const };
    at('ta-trach', 'reservoir_level', [[0, 40]]);
    at('ta-trach', 'inflow', [[0, 800], [20, 1100]]);
    expect(evaluateComposite(any, initialLevelState(), windowOf, T0 + 20 * MIN)).toMatchObject({ held: [false, true], transition: { kind: 'raise' } });
    const cut = rule<'composite'>('flood-cutting.binh-dien') as CompositeRule;
    at('kim-long', 'water_level', [[0, 1.9]]);
    expect(evaluateComposite(cut, initialLevelState(), windowOf, T0).transition).toBeUndefined();
    at('kim-long', 'water_level', [[0, 1.9], [10, 2.05]]);
    expect(evaluateComposite(cut, initialLevelState(), windowOf, T0 + 10 * MIN).transition).toMatchObject({ kind: 'raise', to: 1 });
  });
});
