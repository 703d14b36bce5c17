import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultVesselRuleConfig, evaluateBoundary, evaluateProtected, evaluateZone, signalOnFix, signalOnTick, type BoundaryState, type Fix, type VesselTransition } from './geofence.ts';
import { evaluateStormFix, evaluateStormTick, initialStormState, stormArea } from './storm.ts';
import { loadSeaZones } from './zones.ts';

/** The real (synthetic) Huế zones from config/. */
const zones = loadSeaZones(fileURLToPath(new URL('../../config/hue-sea-zones.geojson', import.meta.url)));
const cfg = defaultVesselRuleConfig();
const H = 3_600_000;
const T0 = Date.parse('2026-09-20T00:00:00Z');

// Places in the Huế model (checked against the polygons in the first test)
const P = {
  thuanAnPort: { lon: 107.62, lat: 16.562 },
  coastal: { lon: 107.72, lat: 16.53 },
  inshore: { lon: 107.85, lat: 16.65 },
  offshore: { lon: 108.1, lat: 17.0 },
  nearBoundaryInside: { lon: 108.05, lat: 17.35 },
  boundaryVertex: { lon: 108.12, lat: 17.431 },
  beyond: { lon: 108.2, lat: 17.5 },
  sonCha: { lon: 108.16, lat: 16.27 },
};

/** Runs a track through a pure core, collecting transitions. */
function run<S>(track: Array<Omit<Fix, 'vesselId' | 'ts'> & { dt?: number }>, init: S, step: (s: S, f: Fix) => { state: S; transition?: VesselTransition }) {
  let s = init;
  let ts = T0;
  const out: VesselTransition[] = [];
  for (const p of track) {
    ts += p.dt ?? 10 * 60_000;
    const r = step(s, { vesselId: 'TTH-90123-TS', ts, lat: p.lat, lon: p.lon, sog: p.sog });
    s = r.state;
    if (r.transition) out.push(r.transition);
  }
  return { state: s, out };
}

describe('outer boundary (IUU)', () => {
  const step = (s: BoundaryState, f: Fix) => evaluateBoundary(cfg, zones, s, f);

  it('raises when a vessel crosses the boundary outward, and ends when it is back inside', () => {
    const { out } = run([P.offshore, P.nearBoundaryInside, P.beyond, P.beyond, P.nearBoundaryInside], { alerting: false }, step);
    expect(out.map((t) => t.level)).toEqual([1, 0]);
    expect(out[0]).toMatchObject({ kind: 'boundary', where: 'boundary-permitted-sea' });
    expect(out[0]!.value).toBeGreaterThan(5); // nm beyond the line
  });

  it('does not raise for a track that touches the boundary and turns back', () => {
    const { out, state } = run([P.nearBoundaryInside, P.boundaryVertex, P.nearBoundaryInside], { alerting: false }, step);
    expect(out).toEqual([]);
    expect(state.side).toBe('inside');
  });

  it('does not raise for a fix a few metres past the line (GPS noise within the tolerance)', () => {
    // 20 m north-east of the vertex: past the line, within the 50 m tolerance
    const jitter = { lon: P.boundaryVertex.lon + 0.00013, lat: P.boundaryVertex.lat + 0.0001 };
    const { out } = run([P.nearBoundaryInside, jitter, P.nearBoundaryInside], { alerting: false }, step);
    expect(out).toEqual([]);
  });

  it('raises after a touch when the vessel then goes on outward', () => {
    const { out } = run([P.nearBoundaryInside, P.boundaryVertex, P.beyond], { alerting: false }, step);
    expect(out.map((t) => t.level)).toEqual([1]);
  });

  it('ignores late fixes', () => {
    const s: BoundaryState = { alerting: false, side: 'inside', lastTs: T0 + H };
    expect(evaluateBoundary(cfg, zones, s, { vesselId: 'x', ts: T0, ...P.beyond }).transition).toBeUndefined();
  });
});

describe('fishing zone by length class', () => {
  const step = (len: number) => (s: object, f: Fix) => evaluateZone(cfg, zones, s, f, len);

  it('raises for a 16.5 m vessel fishing slowly in the coastal zone for 30 minutes, and ends when it leaves', () => {
    const slow = { ...P.coastal, sog: 2 };
    const { out } = run([slow, slow, slow, slow, { ...P.offshore, sog: 3 }], {}, step(16.5));
    expect(out.map((t) => [t.level, t.where])).toEqual([[1, 'zone-coastal'], [0, 'zone-coastal']]);
    expect(out[0]!.threshold).toBe(12);
  });

  it('does not raise for the same vessel passing through at speed, or in port', () => {
    expect(run([{ ...P.coastal, sog: 9 }, { ...P.coastal, sog: 9 }, { ...P.coastal, sog: 9 }, { ...P.coastal, sog: 9 }], {}, step(16.5)).out).toEqual([]);
    expect(run(Array(6).fill({ ...P.thuanAnPort, sog: 0 }), {}, step(16.5)).out).toEqual([]);
  });

  it('lets each length class fish in its own zone and nowhere else', () => {
    const slowly = (p: { lon: number; lat: number }) => Array(5).fill({ ...p, sog: 1 });
    expect(run(slowly(P.coastal), {}, step(9.5)).out).toEqual([]);
    expect(run(slowly(P.inshore), {}, step(13.5)).out).toEqual([]);
    expect(run(slowly(P.offshore), {}, step(18)).out).toEqual([]);
    expect(run(slowly(P.offshore), {}, step(9.5)).out.map((t) => t.where)).toEqual(['zone-offshore']);
    expect(run(slowly(P.inshore), {}, step(15)).out.map((t) => t.where)).toEqual(['zone-inshore']);
  });
});

describe('protected area (Sơn Chà)', () => {
  it('raises on entry and ends on exit', () => {
    const { out } = run([P.coastal, P.sonCha, P.sonCha, P.coastal], {}, (s, f) => evaluateProtected(zones, s, f));
    expect(out.map((t) => [t.level, t.where])).toEqual([[1, 'mpa-son-cha'], [0, 'mpa-son-cha']]);
  });
});

describe('VMS signal loss ladder', () => {
  const at = (p: { lat: number; lon: number }) => signalOnFix({ level: 0 }, { vesselId: 'v', ts: T0, ...p }).state;

  it('is an anomaly after 6 h silent at sea, return-to-port after 10 days, and ends with the next fix', () => {
    let s = at(P.offshore);
    const levels: number[] = [];
    for (const t of [5.9 * H, 6 * H, 7 * H, 239 * H, 240 * H, 300 * H]) {
      const r = signalOnTick(cfg, zones, s, 'v', T0 + t);
      s = r.state;
      if (r.transition) levels.push(r.transition.level);
    }
    expect(levels).toEqual([1, 2]);
    const back = signalOnFix(s, { vesselId: 'v', ts: T0 + 301 * H, ...P.offshore });
    expect(back.transition).toMatchObject({ kind: 'signal-loss', level: 0 });
  });

  it('does not call a vessel in port lost', () => {
    expect(signalOnTick(cfg, zones, at(P.thuanAnPort), 'v', T0 + 30 * 24 * H).transition).toBeUndefined();
  });
});

describe('storm danger area', () => {
  const area = stormArea.parse({
    id: 'storm-noru', name: 'Bão Noru — vùng nguy hiểm', validFrom: T0, validTo: T0 + 48 * H,
    polygon: [[107.9, 16.8], [108.5, 16.8], [108.5, 17.3], [107.9, 17.3], [107.9, 16.8]],
  });

  it('lists the vessels inside as they move, and ends when the last one leaves', () => {
    let s = initialStormState();
    const lists: string[][] = [];
    const move = (id: string, p: { lat: number; lon: number }, h: number) => {
      const r = evaluateStormFix(area, s, { vesselId: id, ts: T0 + h * H, ...p });
      s = r.state;
      if (r.transition) lists.push(r.transition.vessels!);
    };
    move('B', P.offshore, 1);
    move('A', P.offshore, 2);
    move('A', { lon: 108.2, lat: 17.1 }, 3); // still inside: no change
    move('C', P.coastal, 3); // outside: no change
    move('B', P.coastal, 4);
    move('A', P.nearBoundaryInside, 5);
    expect(lists).toEqual([['B'], ['A', 'B'], ['A'], []]);
  });

  it('takes a circle, ignores fixes outside the validity period, and ends when the period ends', () => {
    const circle = stormArea.parse({ id: 'storm-c', name: 'c', validFrom: T0, validTo: T0 + 6 * H, circle: { lat: 17.0, lon: 108.1, radiusKm: 30 } });
    expect(evaluateStormFix(circle, initialStormState(), { vesselId: 'A', ts: T0 - 1, ...P.offshore }).transition).toBeUndefined();
    const r = evaluateStormFix(circle, initialStormState(), { vesselId: 'A', ts: T0 + H, ...P.offshore });
    expect(r.transition?.vessels).toEqual(['A']);
    expect(evaluateStormTick(circle, r.state, T0 + 6 * H).transition).toMatchObject({ level: 0, vessels: [] });
  });

  it('refuses an area with both shapes, none, or an open ring', () => {
    expect(stormArea.safeParse({ id: 'x', name: 'x', validFrom: T0, validTo: T0 + 1 }).success).toBe(false);
    expect(stormArea.safeParse({ id: 'x', name: 'x', validFrom: T0, validTo: T0 + 1, polygon: [[1, 1], [2, 1], [2, 2], [1, 2]] }).success).toBe(false);
  });
});
