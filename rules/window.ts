/**
 * Rolling windows of recent readings per station and metric, kept by the engine in memory and
 * warmed from the time-series store at start (so a restart does not forget the last 24 h). Pure
 * helpers: the cores receive a window, they never read the store.
 */

export interface Sample {
  /** observation time, epoch ms */
  ts: number;
  value: number;
}

/** Samples in time order; appending at or before the last ts is refused (late or replayed). */
export type Window = Sample[];

/** Appends in place and drops what is older than `span` before the new sample; false when late. */
export function push(window: Window, sample: Sample, span: number): boolean {
  const last = window.at(-1);
  if (last && sample.ts <= last.ts) return false;
  window.push(sample);
  const cut = sample.ts - span;
  let drop = 0;
  while (drop < window.length && window[drop]!.ts <= cut) drop++;
  if (drop > 0) window.splice(0, drop);
  return true;
}

/**
 * Samples with ts in (end − span, end]. `rainfall` is mm in the interval ending at ts, so a sample
 * stamped exactly end − span belongs to the interval before the window and is left out.
 * Allocates: the hot path uses `sumWithin` and `riseWithin`, which walk the window in place.
 */
export function within(window: readonly Sample[], end: number, span: number): Sample[] {
  return window.filter((s) => s.ts > end - span && s.ts <= end);
}

export function sum(samples: readonly Sample[]): number {
  let total = 0;
  for (const s of samples) total += s.value;
  return total;
}

/** First index whose ts is > `after` (windows are in time order): a binary search, no allocation. */
function firstAfter(window: readonly Sample[], after: number): number {
  let lo = 0;
  let hi = window.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (window[mid]!.ts > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** `sum(within(window, end, span))` without the intermediate array (same order of additions). */
export function sumWithin(window: readonly Sample[], end: number, span: number): number {
  let total = 0;
  for (let i = firstAfter(window, end - span); i < window.length; i++) {
    const s = window[i]!;
    if (s.ts > end) break;
    total += s.value;
  }
  return total;
}

/** Rise of the last sample over the lowest one in (end − span, end]; 0 with fewer than two. */
export function rise(window: readonly Sample[], end: number, span: number): number {
  let n = 0;
  let min = Infinity;
  let last = 0;
  for (let i = firstAfter(window, end - span); i < window.length; i++) {
    const s = window[i]!;
    if (s.ts > end) break;
    n++;
    min = Math.min(min, s.value);
    last = s.value;
  }
  return n < 2 ? 0 : last - min;
}

/** Means per clock hour, newest first, keyed by hours back from the hour holding `end` (0 = that hour). */
export function hourlyMeans(window: readonly Sample[], end: number, hours: number): Array<number | undefined> {
  const out = new Array<number | undefined>(hours);
  hourlyMeansInto(window, end, hours, out);
  return out;
}

const H = 3_600_000;
/** scratch for `hourlyMeansInto`: the engine is single-threaded and the function does not re-enter */
let counts = new Float64Array(24);
let totals = new Float64Array(24);

/**
 * `hourlyMeans` into a caller's array (reused across evaluations: no allocation on the hot path).
 * One pass in window order, as `hourlyMeans` always summed, so the means are bit-identical.
 */
export function hourlyMeansInto(window: readonly Sample[], end: number, hours: number, out: Array<number | undefined>): Array<number | undefined> {
  if (counts.length < hours) [counts, totals] = [new Float64Array(hours), new Float64Array(hours)];
  counts.fill(0, 0, hours);
  totals.fill(0, 0, hours);
  const current = Math.floor(end / H);
  // samples before the oldest hour counted cannot count: skip them by binary search
  for (let i = firstAfter(window, (current - hours + 1) * H - 1); i < window.length; i++) {
    const s = window[i]!;
    if (s.ts > end) break;
    const back = current - Math.floor(s.ts / H);
    if (back >= 0 && back < hours) {
      counts[back]!++;
      totals[back]! += s.value;
    }
  }
  for (let back = 0; back < hours; back++) out[back] = counts[back] === 0 ? undefined : totals[back]! / counts[back]!;
  out.length = hours;
  return out;
}
