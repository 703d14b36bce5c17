import { RESOLUTION_MS, type Resolution, type SeriesQuery, type TimeSeriesStore } from './types.ts';

const DAY = 86_400_000;
/** Spans up to this are read raw (a week of 5-min readings is ~2,000 points per metric). */
export const RAW_MAX_SPAN_MS = 7 * DAY;
/** Spans up to this are read from hourly aggregates; longer ones from daily aggregates. */
export const HOURLY_MAX_SPAN_MS = 366 * DAY;

/**
 * The resolution a range query should read: raw for spans under a week or without `every`; the
 * hourly aggregates up to a year and the daily ones beyond, when `every` is a whole number of them.
 */
export function chooseResolution(q: Pick<SeriesQuery, 'from' | 'to' | 'every'>): Resolution {
  const span = q.to - q.from;
  if (q.every === undefined || span <= RAW_MAX_SPAN_MS) return 'raw';
  if (span > HOURLY_MAX_SPAN_MS && q.every % RESOLUTION_MS['1d'] === 0) return '1d';
  if (q.every % RESOLUTION_MS['1h'] === 0) return '1h';
  return 'raw';
}

/** A store whose range queries pick their resolution by `chooseResolution` unless one is given. */
export function withAutoResolution(store: TimeSeriesStore): TimeSeriesStore {
  return {
    writeReadings: (rows) => store.writeReadings(rows),
    series: (q) => store.series(q.resolution ? q : { ...q, resolution: chooseResolution(q) }),
    latest: (station) => store.latest(station),
    count: (filter) => store.count(filter),
    downsample: (now, retention) => store.downsample(now, retention),
    close: () => store.close(),
  };
}
