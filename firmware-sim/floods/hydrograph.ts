import { z } from 'zod';

/**
 * A recorded flood as the simulator replays it: water levels at Kim Long and Phú Ốc and rain
 * bursts at the gauges, each value with where it was published. Times are local (+07:00) as the
 * bulletins give them; the replay's simulated second 0 is `start`. Values marked `(U)` in `source`
 * are unverified estimates that shape the curve between published values (config/README.md's
 * convention): replace them when the hydro-met service's records are at hand.
 */

const point = z.object({
  /** ISO 8601 with offset, e.g. 2017-11-05T09:00+07:00 */
  t: z.string(),
  /** metres on the national height datum */
  m: z.number(),
  /** where the value was published; `(U)` = unverified estimate */
  source: z.string().min(1),
});

const rainBurst = z.object({
  from: z.string(),
  to: z.string(),
  /** mm falling over the burst at each gauge; `default` for gauges not named */
  mm: z.record(z.string(), z.number().nonnegative()),
  source: z.string().min(1),
});

export const floodReplay = z.object({
  title: z.string(),
  start: z.string(),
  end: z.string(),
  levels: z.object({ 'kim-long': z.array(point).min(2), 'phu-oc': z.array(point).min(2) }),
  rain: z.array(rainBurst),
});
export type FloodReplayInput = z.input<typeof floodReplay>;

/** A replay ready to sample: times in seconds since `start`. */
export interface FloodReplay {
  title: string;
  /** when the recorded flood's simulated second 0 was, epoch ms */
  startMs: number;
  durationS: number;
  /** [seconds since start, metres] per station, in time order */
  levels: Readonly<Record<'kim-long' | 'phu-oc', ReadonlyArray<readonly [number, number]>>>;
  rain: ReadonlyArray<{ fromS: number; toS: number; mm: Readonly<Record<string, number>> }>;
  /** the highest published (or estimated) level per station and when: what lead time is measured against */
  peaks: Readonly<Record<'kim-long' | 'phu-oc', { s: number; m: number }>>;
}

const ms = (iso: string) => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`flood replay: bad time "${iso}"`);
  return t;
};

/** Validates a replay and converts its times; throws on points out of order (a typo in a date). */
export function defineFlood(input: FloodReplayInput): FloodReplay {
  const f = floodReplay.parse(input);
  const t0 = ms(f.start);
  const s = (iso: string) => (ms(iso) - t0) / 1000;
  const series = (pts: typeof f.levels['kim-long']) => {
    const out = pts.map((p) => [s(p.t), p.m] as const);
    out.forEach(([t], i) => {
      if (i > 0 && t <= out[i - 1]![0]) throw new Error(`flood replay "${f.title}": ${pts[i]!.t} is not after the point before it`);
    });
    return out;
  };
  const levels = { 'kim-long': series(f.levels['kim-long']), 'phu-oc': series(f.levels['phu-oc']) };
  const peakOf = (pts: ReadonlyArray<readonly [number, number]>) => pts.reduce((a, [t, m]) => (m > a.m ? { s: t, m } : a), { s: 0, m: -Infinity });
  return {
    title: f.title,
    startMs: t0,
    durationS: s(f.end),
    levels,
    rain: f.rain.map((b) => ({ fromS: s(b.from), toS: s(b.to), mm: b.mm })),
    peaks: { 'kim-long': peakOf(levels['kim-long']), 'phu-oc': peakOf(levels['phu-oc']) },
  };
}

/**
 * Monotone cubic interpolation (Fritsch–Carlson, PCHIP): smooth like a real hydrograph, and never
 * above or below the points around it, so a published peak stays the peak. Flat outside the points.
 */
export function interpolate(pts: ReadonlyArray<readonly [number, number]>, t: number): number {
  const n = pts.length;
  if (t <= pts[0]![0]) return pts[0]![1];
  if (t >= pts[n - 1]![0]) return pts[n - 1]![1];
  let i = 0;
  while (t > pts[i + 1]![0]) i++;
  const slope = (k: number) => (pts[k + 1]![1] - pts[k]![1]) / (pts[k + 1]![0] - pts[k]![0]);
  const tangent = (k: number) => {
    if (k === 0) return slope(0);
    if (k === n - 1) return slope(n - 2);
    const a = slope(k - 1), b = slope(k);
    if (a * b <= 0) return 0; // a local extreme: flat, so no overshoot
    const ha = pts[k]![0] - pts[k - 1]![0], hb = pts[k + 1]![0] - pts[k]![0];
    return (3 * (ha + hb)) / ((2 * hb + ha) / a + (hb + 2 * ha) / b); // weighted harmonic mean
  };
  const [t0, y0] = pts[i]!, [t1, y1] = pts[i + 1]!;
  const h = t1 - t0, u = (t - t0) / h;
  const h00 = (1 + 2 * u) * (1 - u) ** 2, h10 = u * (1 - u) ** 2, h01 = u * u * (3 - 2 * u), h11 = u * u * (u - 1);
  return h00 * y0 + h10 * h * tangent(i) + h01 * y1 + h11 * h * tangent(i + 1);
}

/** Integral of sin²(πu) from 0 to u (u clamped to [0, 1]); a burst's cumulative fraction is 2× this. */
const bellIntegral = (u: number) => {
  const c = Math.min(1, Math.max(0, u));
  return c / 2 - Math.sin(2 * Math.PI * c) / (4 * Math.PI);
};

/** Rain (mm) at a gauge in (fromS, toS]: each burst falls sin²-shaped over its span. */
export function replayRain(f: FloodReplay, gauge: string, fromS: number, toS: number): number {
  let mm = 0;
  for (const b of f.rain) {
    const total = b.mm[gauge] ?? b.mm.default ?? 0;
    if (total === 0 || toS <= b.fromS || fromS >= b.toS) continue;
    const w = b.toS - b.fromS;
    mm += total * 2 * (bellIntegral((toS - b.fromS) / w) - bellIntegral((fromS - b.fromS) / w));
  }
  return mm;
}
