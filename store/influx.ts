import { InfluxDB, setLogger } from '@influxdata/influxdb-client';
import { Counter, type Registry } from 'prom-client';
import { isMetric, METRIC_NAMES, METRICS, type MetricName } from '../contract/metrics.ts';
import type { Logger } from '../lib/log.ts';
import { GroupCommitWriter, type InfluxWriteOptions } from './influx-writer.ts';
import { badRequest, ident, literal, runInfluxQL, type QueryTarget, type StatementResult } from './influxql.ts';
import { escapeKey, escapeMeasurement, formatFloat, LineProtocolError, quoteString } from './line-protocol.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import { nonFiniteCounter, ROW_PROBLEM_LOG_INTERVAL_MS, StoreError, StoreErrorCode } from './serial-queue.ts';
import {
  AGGREGATES, RESOLUTION_MS, type Aggregate, type LatestValue, type RetentionPolicy, type SeriesPoint, type SeriesQuery,
  type SequencedReadings, type SequencedRow, type StoredReading, type TimeSeriesStore,
} from './types.ts';

export type { InfluxWriteOptions } from './influx-writer.ts';
export { InfluxErrorCode, InfluxStoreError } from './influxql.ts';

export interface InfluxStoreOptions {
  /** base URL, e.g. http://influxdb:8086 */
  url: string;
  /** API token (InfluxDB 2/3); leave empty for InfluxDB 1.x without auth */
  token?: string;
  org: string;
  bucket: string;
  log: Logger;
  writeOptions?: Partial<InfluxWriteOptions>;
  /** InfluxQL DBRP mapping of the bucket: database (default: the bucket name) and retention policy */
  database?: string;
  retentionPolicy?: string;
  /** per HTTP request, writes and queries */
  timeoutMs?: number;
  /** where `huewatch_influx_write_retries_total` is counted */
  metrics?: Registry;
}

/**
 * Chosen on purpose (FACTS.md: the client's defaults flush every 60 s and gzip every batch).
 * There is no flush timer at all: each writeReadings is sent at once, together with whatever else
 * is waiting (GroupCommitWriter), so an alert-path reading waits one round trip, not an interval.
 */
export const DEFAULT_INFLUX_WRITE_OPTIONS: Readonly<InfluxWriteOptions> = Object.freeze({
  // InfluxDB's recommended batch (docs "Optimize writes": 5,000 lines); 1.6.7 here takes ~450k points/s so
  batchSize: 5000,
  // ~0.5 MB per full batch, so on the LAN (InfluxDB beside us in compose) gzip never runs: it costs
  // ~40 % of the client's CPU at high rates (FACTS.md) to save bandwidth that is free there. For
  // InfluxDB Cloud over a WAN set it to ~16 KiB.
  gzipThreshold: 1 << 20,
  // 0.5 + 1 + 2 s (+ jitter) rides out an InfluxDB restart or a compaction stall while the caller
  // still holds the MQTT ack; past that the durable retry is ingest's on-disk spool (DESIGN.md),
  // not memory. The client's defaults (5 retries, 5–125 s, up to 180 s) would hold acks for minutes.
  maxRetries: 3,
  minRetryDelay: 500,
  maxRetryDelay: 4000,
  maxRetryTime: 15_000,
  // several ingest workers ($share group) fail together when InfluxDB restarts: spread their retries
  retryJitter: 250,
  // 10 batches (~5 MB) may wait; beyond it callers get HW_ERR_STORE_BUSY and spool to disk
  maxBufferLines: 50_000,
});

const DEFAULT_TIMEOUT_MS = 10_000;
const INFLUXQL_FN: Record<Aggregate, string> = { mean: 'mean', min: 'min', max: 'max', last: 'last', sum: 'sum' };
const MEASUREMENTS = [...new Set(METRIC_NAMES.map((m) => METRICS[m].measurement))];
/** Aggregates over the `<domain>_1h` / `_1d` measurements (fields `<metric>_min|max|sum|count|last`). */
const INFLUXQL_AGG_OF_AGG: Record<Aggregate, (m: string) => string> = {
  mean: (m) => `sum(${ident(`${m}_sum`)}) / sum(${ident(`${m}_count`)})`,
  min: (m) => `min(${ident(`${m}_min`)})`,
  max: (m) => `max(${ident(`${m}_max`)})`,
  last: (m) => `last(${ident(`${m}_last`)})`,
  sum: (m) => `sum(${ident(`${m}_sum`)})`,
};
const HOUR = RESOLUTION_MS['1h'];
const DAY = RESOLUTION_MS['1d'];
const floorTo = (t: number, w: number) => t - (((t % w) + w) % w);

/**
 * Schema (store/README.md "InfluxDB adapter"): measurement = the metric's domain, one tag
 * `station`, and per metric the fields `<metric>` (float value), `<metric>_quality`,
 * `<metric>_device` and `<metric>_seq` (integer). Several metrics of one domain share a point
 * (station, time), so quality/device/seq carry the metric's name or the last metric written would
 * overwrite the others'.
 */
export const fieldKeys = (metric: MetricName) =>
  ({ value: metric, quality: `${metric}_quality`, device: `${metric}_device`, seq: `${metric}_seq` }) as const;

export async function openInfluxStore(opts: InfluxStoreOptions): Promise<InfluxStore> {
  const log = opts.log.child({ module: 'store-influx' });
  const write = Object.freeze({ ...DEFAULT_INFLUX_WRITE_OPTIONS, ...opts.writeOptions });
  for (const [k, v] of Object.entries(write)) {
    if (!Number.isFinite(v) || v < 0) throw badRequest(`writeOptions.${k} must be a non-negative number, got ${v}`);
  }
  if (write.batchSize < 1) throw badRequest('writeOptions.batchSize must be at least 1');
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // the client's logger is process-wide; its messages repeat what we log with context, so debug
  setLogger({ error: (msg, err) => log.debug({ err: String(err) }, msg), warn: (msg, err) => log.debug({ err: String(err) }, msg) });
  const client = new InfluxDB({ url: opts.url, token: opts.token ?? '', timeout });
  const api = client.getWriteApi(opts.org, opts.bucket, 'ms', {
    // one past ours: the client's own size trigger must never fire (its sends report to nobody)
    batchSize: write.batchSize + 1,
    maxBatchBytes: Number.MAX_SAFE_INTEGER,
    flushInterval: 0, // no timer: GroupCommitWriter flushes every batch itself
    gzipThreshold: write.gzipThreshold,
    maxRetries: 0, // retries live in GroupCommitWriter, inside the caller's await
    maxBufferLines: 1, // the client's retry buffer stays unused with maxRetries 0
  });
  const target: QueryTarget = Object.freeze({
    url: opts.url.replace(/\/+$/, ''), token: opts.token, database: opts.database ?? opts.bucket,
    retentionPolicy: opts.retentionPolicy, timeoutMs: timeout,
  });
  log.info({ url: opts.url, bucket: opts.bucket, database: target.database, batchSize: write.batchSize }, 'influx store open');
  const reg = opts.metrics;
  const retries = reg && ((reg.getSingleMetric('huewatch_influx_write_retries_total') as Counter | undefined) ?? new Counter({
    name: 'huewatch_influx_write_retries_total', help: 'InfluxDB write batches retried after a failure', registers: [reg],
  }));
  const nonFinite = reg && nonFiniteCounter(reg);
  const throttled = new ThrottledLog(log, ROW_PROBLEM_LOG_INTERVAL_MS);
  const onNonFinite = (r: StoredReading) => {
    nonFinite?.inc({ store: 'influx' });
    throttled.warn(`${r.station}\u0000${r.metric}`, { station: r.station, metric: r.metric, ts: r.ts, device: r.device, seq: r.seq, value: String(r.value) },
      'reading with a non-finite value (NaN/Infinity) dropped: line protocol cannot carry it; the rest of the batch is written');
  };
  return new InfluxStore(new GroupCommitWriter(api, write, log, () => retries?.inc()), target, onNonFinite);
}


export class InfluxStore implements TimeSeriesStore, SequencedReadings {
  #closing: Promise<void> | undefined;
  /** earliest ts written since the last downsample; -Infinity until the first run (recompute all) */
  #dirtyFrom = Number.NEGATIVE_INFINITY;
  /** raw readings before this were deleted by an earlier run: buckets there are final */
  #rawCutDone = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly writer: GroupCommitWriter,
    private readonly target: QueryTarget,
    private readonly onNonFinite: (r: StoredReading) => void = () => undefined,
  ) {}

  /** Resolves once InfluxDB has answered 204 for every line of `rows`. */
  async writeReadings(rows: readonly StoredReading[]): Promise<void> {
    if (this.#closing) throw closedError();
    if (rows.length === 0) return;
    const lines = toLines(rows, this.onNonFinite);
    for (const r of rows) if (r.ts < this.#dirtyFrom) this.#dirtyFrom = r.ts;
    if (lines.length > 0) await this.writer.write(lines);
  }

  async series(q: SeriesQuery): Promise<SeriesPoint[]> {
    const measurement = measurementOf(q.metric);
    requireInt('from', q.from);
    requireInt('to', q.to);
    if (q.to <= q.from) return [];
    const where = `WHERE "station" = ${literal(q.station)} AND time >= ${q.from}ms AND time < ${q.to}ms`;
    const res = q.resolution ?? 'raw';
    let statement: string;
    if (res !== 'raw') {
      if (q.every === undefined || q.every % RESOLUTION_MS[res] !== 0) throw badRequest(`resolution ${res} needs every to be a multiple of it`);
      const fn = q.fn ?? 'mean';
      if (!AGGREGATES.includes(fn)) throw badRequest(`unknown aggregate "${String(fn)}"`);
      statement = `SELECT ${INFLUXQL_AGG_OF_AGG[fn](q.metric)} FROM ${ident(`${measurement}_${res}`)} ${where} GROUP BY time(${q.every}ms) fill(none)`;
    } else if (q.every === undefined) {
      statement = `SELECT ${ident(q.metric)} FROM ${ident(measurement)} ${where}`;
    } else {
      if (!Number.isSafeInteger(q.every) || q.every <= 0) throw badRequest(`every must be a positive integer of ms, got ${q.every}`);
      const fn = q.fn ?? 'mean';
      if (!AGGREGATES.includes(fn)) throw badRequest(`unknown aggregate "${String(fn)}"`);
      // GROUP BY time() buckets count from the Unix epoch in UTC and are labelled with their start;
      // fill(none) leaves empty buckets out
      statement = `SELECT ${INFLUXQL_FN[fn]}(${ident(q.metric)}) FROM ${ident(measurement)} ${where} GROUP BY time(${q.every}ms) fill(none)`;
    }
    const [result] = await this.#query([statement]);
    return rowsOf(result).filter((r) => typeof r[1] === 'number').map((r) => ({ ts: Number(r[0]), value: r[1] as number }));
  }

  async latest(station: string): Promise<LatestValue[]> {
    // one statement per metric: with a single selector, InfluxQL returns the other fields of the
    // point it selected (so quality and device belong to the last value) and that point's time
    const statements = METRIC_NAMES.map((m) => {
      const k = fieldKeys(m);
      return `SELECT last(${ident(k.value)}) AS "value", ${ident(k.quality)} AS "quality", ${ident(k.device)} AS "device" `
        + `FROM ${ident(METRICS[m].measurement)} WHERE "station" = ${literal(station)}`;
    });
    const results = await this.#query(statements);
    const out: LatestValue[] = [];
    results.forEach((result, i) => {
      const row = rowsOf(result)[0];
      if (!row || typeof row[1] !== 'number') return;
      out.push({
        metric: METRIC_NAMES[i]!, value: row[1], ts: Number(row[0]),
        quality: row[2] === 'out_of_range' ? 'out_of_range' : 'ok', device: typeof row[3] === 'string' ? row[3] : '',
      });
    });
    return out;
  }

  /**
   * What devices sent with a seq since `from` (ingest's duplicate check, warmed at start): per
   * metric its value, `<metric>_device` and `<metric>_seq`, newest first, at most `limit` a metric.
   */
  async sequencedSince(from: number, limit = 200_000): Promise<SequencedRow[]> {
    const n = requireInt('limit', Math.max(1, Math.trunc(limit)));
    const statements = METRIC_NAMES.map((m) => {
      const k = fieldKeys(m);
      return `SELECT ${ident(k.value)}, ${ident(k.device)}, ${ident(k.seq)} FROM ${ident(METRICS[m].measurement)} `
        + `WHERE time >= ${requireInt('from', Math.trunc(from))}ms AND ${ident(k.seq)} >= 0 ORDER BY time DESC LIMIT ${n}`;
    });
    const out: SequencedRow[] = [];
    (await this.#query(statements)).forEach((result, i) => {
      for (const row of rowsOf(result)) {
        const [ts, value, device, seq] = row;
        if (typeof value !== 'number' || typeof device !== 'string' || typeof seq !== 'number') continue;
        out.push({ device, seq, ts: Number(ts), metric: METRIC_NAMES[i]!, value });
      }
    });
    return out;
  }

  async count(filter: { station?: string; metric?: MetricName } = {}): Promise<number> {
    const where = filter.station === undefined ? '' : ` WHERE "station" = ${literal(filter.station)}`;
    const groups = filter.metric === undefined
      ? MEASUREMENTS.map((ms) => ({ ms, metrics: METRIC_NAMES.filter((m) => METRICS[m].measurement === ms) }))
      : [{ ms: measurementOf(filter.metric), metrics: [filter.metric] }];
    // a reading is one value field; quality/device/seq are its attributes, not readings
    const statements = groups.map(({ ms, metrics }) =>
      `SELECT ${metrics.map((m) => `count(${ident(m)}) AS ${ident(m)}`).join(', ')} FROM ${ident(ms)}${where}`);
    let total = 0;
    for (const result of await this.#query(statements)) {
      for (const row of rowsOf(result)) for (const v of row.slice(1)) if (typeof v === 'number') total += v;
    }
    return total;
  }

  /**
   * Downsampling in our code rather than continuous queries: CQs do not exist in InfluxDB 2.x/3.x,
   * and `SELECT … INTO` is not served by 2.x's v1 `/query`. Aggregates are read with InfluxQL and
   * written back as `<domain>_1h` / `<domain>_1d` points (fields `<metric>_min|max|sum|count|last`)
   * through the same write path, so this works on 1.x, 2.x and 3.x alike. Retention: `DELETE … WHERE
   * time < …` on InfluxQL (1.x); 2.x/3.x refuse DELETE on `/query`, so there the bucket's own
   * retention (≥ RETENTION_HOURLY_DAYS) bounds the data and raw deletion is logged as skipped.
   */
  async downsample(now: number, retention: RetentionPolicy): Promise<void> {
    requireInt('now', now);
    const rawCut = floorTo(now - retention.rawMs, DAY);
    const dirty = this.#dirtyFrom;
    this.#dirtyFrom = Number.POSITIVE_INFINITY;
    try {
      if (dirty !== Number.POSITIVE_INFINITY) {
        // aggregate before deleting, so raw data about to expire still lands in its buckets
        const fromHour = Math.max(this.#rawCutDone, Number.isFinite(dirty) ? floorTo(dirty, HOUR) : dirty);
        const fromDay = Math.max(this.#rawCutDone, Number.isFinite(dirty) ? floorTo(dirty, DAY) : dirty);
        await this.#aggregate('1h', fromHour, (m) => [`min(${ident(m)})`, `max(${ident(m)})`, `sum(${ident(m)})`, `count(${ident(m)})`, `last(${ident(m)})`], '');
        await this.#aggregate('1d', fromDay, (m) => [
          `min(${ident(`${m}_min`)})`, `max(${ident(`${m}_max`)})`, `sum(${ident(`${m}_sum`)})`, `sum(${ident(`${m}_count`)})`, `last(${ident(`${m}_last`)})`,
        ], '_1h');
      }
    } catch (err) {
      this.#dirtyFrom = Math.min(this.#dirtyFrom, dirty);
      throw err;
    }
    const cuts: Array<[string, number]> = [['', rawCut], ['_1h', floorTo(now - retention.hourlyMs, DAY)], ['_1d', floorTo(now - retention.dailyMs, DAY)]];
    await this.#query(cuts.flatMap(([suffix, cut]) => MEASUREMENTS.map((ms) => `DELETE FROM ${ident(ms + suffix)} WHERE time < ${cut}ms`)));
    this.#rawCutDone = Math.max(this.#rawCutDone, rawCut);
  }

  /** One statement per metric, grouped by station and bucket; the results written back as points. */
  async #aggregate(res: '1h' | '1d', from: number, selects: (m: MetricName) => string[], source: string): Promise<void> {
    const width = RESOLUTION_MS[res];
    const statements = METRIC_NAMES.map((m) =>
      `SELECT ${selects(m).join(', ')} FROM ${ident(METRICS[m].measurement + source)}${Number.isFinite(from) ? ` WHERE time >= ${from}ms` : ''} GROUP BY time(${width}ms), "station" fill(none)`);
    const results = await this.#query(statements);
    const lines: string[] = [];
    results.forEach((result, i) => {
      const m = METRIC_NAMES[i]!;
      const measurement = escapeMeasurement(`${METRICS[m].measurement}_${res}`);
      for (const series of result.series ?? []) {
        const station = series.tags?.station;
        if (!station) continue;
        for (const v of series.values) {
          const [ts, min, max, sum, count, last] = v as [number, number, number, number, number, number];
          if (typeof count !== 'number' || count === 0) continue;
          const f = (k: string) => escapeKey('field key', `${m}_${k}`);
          lines.push(`${measurement},station=${escapeKey('tag value', station)} ${f('min')}=${formatFloat(min)},${f('max')}=${formatFloat(max)},`
            + `${f('sum')}=${formatFloat(sum)},${f('count')}=${Math.round(count)}i,${f('last')}=${formatFloat(last)} ${ts}`);
        }
      }
    });
    for (let i = 0; i < lines.length; i += 5000) await this.writer.write(lines.slice(i, i + 5000));
  }

  /** Sends what is already queued (one attempt each), then refuses further calls (HW_ERR_STORE_CLOSED). */
  close(): Promise<void> {
    this.#closing ??= this.writer.close();
    return this.#closing;
  }

  #query(statements: string[]): Promise<StatementResult[]> {
    if (this.#closing) return Promise.reject(closedError());
    return runInfluxQL(this.target, statements);
  }
}

/** Per metric, the escaped measurement and field keys: computed once, not per reading. */
const LINE_PARTS = new Map(METRIC_NAMES.map((m) => {
  const k = fieldKeys(m);
  return [m, {
    measurement: escapeMeasurement(METRICS[m].measurement),
    value: `${escapeKey('field key', k.value)}=`, quality: `,${escapeKey('field key', k.quality)}=`,
    device: `,${escapeKey('field key', k.device)}=`, seq: `,${escapeKey('field key', k.seq)}=`,
  }] as const;
}));

interface PendingPoint { ts: number; rows: StoredReading[] }

/**
 * Readings → lines, one line per (measurement, station, ts): metrics of one domain at one time
 * share a point anyway, and within a call the last row for a (station, metric, ts) wins, the same
 * rule the server applies between calls. Everything is checked before anything is sent. Plain
 * strings from precomputed parts, grouped by series then by numeric ts (no per-row key strings:
 * garbage collection was most of the cost).
 *
 * A row whose value is NaN or ±Infinity is never emitted (line protocol has no such float, and it is
 * not a measurement): it is left out and handed to `onNonFinite`, and the rest of the batch goes
 * out, so one bad value cannot cost the good readings of a whole poll or batch. Without
 * `onNonFinite` such a row refuses the call (HW_ERR_BAD_REQUEST), as any other row it cannot write.
 */
export function toLines(rows: readonly StoredReading[], onNonFinite?: (r: StoredReading) => void): string[] {
  // series prefix "measurement,station=..." → ts → point
  const series = new Map<string, Map<number, PendingPoint>>();
  const prefixes = new Map<string, Map<string, string>>(); // station → measurement → prefix
  try {
    for (const r of rows) {
      const parts = LINE_PARTS.get(r.metric);
      if (!parts) throw badRequest(`unknown metric "${r.metric}"`);
      requireInt('ts', r.ts);
      if (!Number.isFinite(r.value) && onNonFinite) {
        onNonFinite(r);
        continue;
      }
      let byMeasurement = prefixes.get(r.station);
      if (!byMeasurement) prefixes.set(r.station, (byMeasurement = new Map()));
      let prefix = byMeasurement.get(parts.measurement);
      if (prefix === undefined) byMeasurement.set(parts.measurement, (prefix = `${parts.measurement},station=${escapeKey('tag value', r.station)} `));
      let points = series.get(prefix);
      if (!points) series.set(prefix, (points = new Map()));
      const p = points.get(r.ts);
      if (!p) {
        points.set(r.ts, { ts: r.ts, rows: [r] });
        continue;
      }
      // a point holds a few metrics: a scan beats a Map per point
      const same = p.rows.findIndex((o) => o.metric === r.metric);
      if (same >= 0) p.rows[same] = r;
      else p.rows.push(r);
    }
    const lines: string[] = [];
    for (const [prefix, points] of series) {
      for (const p of points.values()) {
        let fields = '';
        for (const r of p.rows) {
          const parts = LINE_PARTS.get(r.metric)!;
          if (fields) fields += ',';
          fields += `${parts.value}${formatFloat(r.value)}${parts.quality}${quoteString(r.quality)}${parts.device}${quoteString(r.device)}`;
          if (r.seq !== undefined) fields += `${parts.seq}${requireInt('seq', r.seq)}i`; // a safe integer is within int64
        }
        lines.push(`${prefix}${fields} ${p.ts}`);
      }
    }
    return lines;
  } catch (err) {
    if (err instanceof LineProtocolError) throw badRequest(err.message);
    throw err;
  }
}

function measurementOf(metric: string): string {
  if (!isMetric(metric)) throw badRequest(`unknown metric "${metric}"`);
  return METRICS[metric].measurement;
}

function rowsOf(result: StatementResult | undefined): unknown[][] {
  return result?.series?.[0]?.values ?? [];
}

function requireInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw badRequest(`${name} must be an integer, got ${v}`);
  return v;
}

function closedError(): StoreError {
  return new StoreError(StoreErrorCode.CLOSED, 'influx store is closed');
}
