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
 */
export function within(window: readonly Sample[], end: number, span: number): Sample[] {
  return window.filter((s) => s.ts > end - span && s.ts <= end);
}

export function sum(samples: readonly Sample[]): number {
  let total = 0;
  for (const s of samples) total += s.value;
  return total;
}

/** Rise of the last sample over the lowest one in (end − span, end]; 0 with fewer than two. */
export function rise(window: readonly Sample[], end: number, span: number): number {
  const w = within(window, end, span);
  if (w.length < 2) return 0;
  let min = Infinity;
  for (const s of w) min = Math.min(min, s.value);
  return w.at(-1)!.value - min;
}

/** Means per clock hour, newest first, keyed by hours back from the hour holding `end` (0 = that hour). */
export function hourlyMeans(window: readonly Sample[], end: number, hours: number): Array<number | undefined> {
  const H = 3_600_000;
  const current = Math.floor(end / H);
  const acc = Array.from({ length: hours }, () => ({ n: 0, total: 0 }));
  for (const s of window) {
    if (s.ts > end) continue;
    const back = current - Math.floor(s.ts / H);
    if (back >= 0 && back < hours) {
      acc[back]!.n++;
      acc[back]!.total += s.value;
    }
  }
  return acc.map((a) => (a.n === 0 ? undefined : a.total / a.n));
}
