import { mkdir } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { dirname } from 'node:path';
import {
  BIGINT, BOOLEAN, DOUBLE, INTEGER, LIST, VARCHAR, DuckDBDataChunk, DuckDBInstance, listValue,
  type DuckDBAppender, type DuckDBConnection, type DuckDBType, type DuckDBValue, type JS,
} from '@duckdb/node-api';
import { alertEvent, type AlertEvent } from '../contract/alert.ts';
import type { MetricName, Quality } from '../contract/metrics.ts';
import type { Logger } from '../lib/log.ts';
import { Counter, Registry } from 'prom-client';
import { ThrottledLog } from '../lib/throttled-log.ts';
import { migrate, SCHEMA_VERSION } from './schema.ts';
import { nonFiniteCounter, ROW_PROBLEM_LOG_INTERVAL_MS, SerialQueue, StoreError, StoreErrorCode } from './serial-queue.ts';
import {
  AGGREGATES, RESOLUTION_MS, type Aggregate, type DeviceRecord, type LatestValue, type RetentionPolicy, type SeriesPoint,
  type SeriesQuery, type SequencedReadings, type SequencedRow, type StateStore, type StoredReading, type TimeSeriesStore,
} from './types.ts';

export interface EmbeddedStoreOptions {
  /** database file under the data folder (parent folders are created), or ':memory:' */
  file: string;
  log: Logger;
  /** epoch ms clock; stamps alert history and kv rows */
  now?: () => number;
  /** operations that may wait per connection before calls are refused with HW_ERR_STORE_BUSY */
  maxPending?: number;
  /**
   * where `huewatch_store_readings_replaced_total` and `huewatch_store_non_finite_dropped_total`
   * are counted (get-or-create); without it they are counted in a registry of the store's own
   */
  metrics?: Registry;
}

/** Enough for a burst of ingest batches plus API reads; beyond it the caller must back off. */
export const DEFAULT_MAX_PENDING = 1000;
/** DuckDB's vector size (STANDARD_VECTOR_SIZE): a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;
const READING_TYPES = [VARCHAR, VARCHAR, BIGINT, DOUBLE, VARCHAR, BIGINT, VARCHAR];

/** Whitelisted aggregate SQL: `fn` is never interpolated as given. `last` is by ts, not by arrival. */
const AGG_SQL: Record<Aggregate, string> = {
  mean: 'avg(value)',
  min: 'min(value)',
  max: 'max(value)',
  last: 'arg_max(value, ts)',
  sum: 'sum(value)',
};

/** The same aggregates over the hourly/daily tables: mean from sum and count, last by last_ts. */
const AGG_OF_AGG_SQL: Record<Aggregate, string> = {
  mean: 'sum(sum) / sum(count)',
  min: 'min(min)',
  max: 'max(max)',
  last: 'arg_max(last, last_ts)',
  sum: 'sum(sum)',
};
const HOUR = RESOLUTION_MS['1h'];
const DAY = RESOLUTION_MS['1d'];
const floorTo = (t: number, w: number) => t - (((t % w) + w) % w);
/** which connection (and queue) a write takes: readings, or platform state */
type WriteLane = 'series' | 'state';
const seriesKey = (station: string, metric: string) => `${station}\u0000${metric}`;

/**
 * Appends the rows into the staging table, one appender per 2,048-row chunk, yielding to the
 * event loop between chunks. An appender's chunk building and close run on the event loop's
 * thread (@duckdb/node-api has no async close): one appender for a 40,000-row batch held the
 * loop for ~400 ms, and every alert and PUBACK waited behind it. A chunk at a time bounds that
 * stall to a chunk's ~20 ms; the staging table is emptied after the batch, so the chunks add up.
 */
async function appendRows(c: DuckDBConnection, table: string, rows: readonly StoredReading[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    if (i > 0) await yieldToEventLoop();
    const appender: DuckDBAppender = await c.createAppender(table, 'main', 'temp');
    try {
      appender.appendDataChunk(toChunk(rows.slice(i, i + CHUNK_ROWS)));
    } finally {
      appender.closeSync();
    }
  }
}

/**
 * Last write wins, as in InfluxDB (a point with the same series and time overwrites the fields),
 * so the contract suite holds for both adapters. Rows that change nothing are not rewritten: a
 * redelivered batch (QoS 1, spool replay) costs a scan, not an update.
 */
const UPSERT_FROM_STAGING = `
  INSERT INTO readings SELECT * FROM temp.main.readings_staging
  ON CONFLICT (station, metric, ts) DO UPDATE SET
    value = excluded.value, device = excluded.device, seq = excluded.seq, quality = excluded.quality
  WHERE readings.value IS DISTINCT FROM excluded.value OR readings.device IS DISTINCT FROM excluded.device
     OR readings.seq IS DISTINCT FROM excluded.seq OR readings.quality IS DISTINCT FROM excluded.quality`;

/**
 * Rows of the staging batch that will replace a stored reading with another value or seq (a
 * redelivery with the same value and seq is not counted), and the first of them by ts for the log.
 * The ts range is given as literals so DuckDB prunes `readings` by its min/max zonemaps: fresh rows
 * (ts rising) touch no stored row group, and the join costs a scan of the batch.
 */
const replacedSql = (lo: number, hi: number) => `
  SELECT count(*), arg_min({station: s.station, metric: s.metric, ts: s.ts, stored_seq: r.seq, new_seq: s.seq,
                            stored_value: r.value, new_value: s.value, stored_device: r.device, new_device: s.device}, s.ts)
  FROM temp.main.readings_staging s JOIN readings r ON r.station = s.station AND r.metric = s.metric AND r.ts = s.ts
  WHERE r.ts BETWEEN ${lo} AND ${hi} AND (r.value IS DISTINCT FROM s.value OR r.seq IS DISTINCT FROM s.seq)`;

export async function openEmbeddedStore(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  const log = opts.log.child({ module: 'store' });
  const now = opts.now ?? Date.now;
  if (opts.file !== ':memory:') await mkdir(dirname(opts.file), { recursive: true });
  const instance = await DuckDBInstance.create(opts.file);
  let writer: DuckDBConnection | undefined;
  let seriesWriter: DuckDBConnection | undefined;
  let reader: DuckDBConnection | undefined;
  try {
    writer = await instance.connect();
    seriesWriter = await instance.connect();
    reader = await instance.connect();
    const found = await migrate(writer, now());
    // the write path appends a batch here, then upserts it in one statement (see writeReadings)
    await seriesWriter.run('CREATE TEMP TABLE readings_staging AS SELECT * FROM readings LIMIT 0');
    // writeJsonBatch appends its changes here (value NULL: a delete), then applies them in two statements
    await writer.run('CREATE TEMP TABLE kv_staging (key VARCHAR NOT NULL, value VARCHAR)');
    log.info({ file: opts.file, schemaVersion: SCHEMA_VERSION, migratedFrom: found }, 'embedded store open');
  } catch (err) {
    reader?.closeSync();
    seriesWriter?.closeSync();
    writer?.closeSync();
    instance.closeSync();
    throw err;
  }
  const limit = opts.maxPending ?? DEFAULT_MAX_PENDING;
  const store = new EmbeddedStore(
    instance, { state: writer, series: seriesWriter }, reader,
    { state: new SerialQueue(limit), series: new SerialQueue(limit) }, new SerialQueue(limit), log, now,
  );
  store.useMetrics(opts.metrics ?? new Registry());
  // the newest stored ts per series: a row newer than it can replace nothing (see writeReadings)
  for (const [station, metric, ts] of (await reader.runAndReadAll('SELECT station, metric, max(ts) FROM readings GROUP BY station, metric')).getRowsJS()) {
    store.noteStoredTs(String(station), String(metric), num(ts!));
  }
  return store;
}

/**
 * One DuckDB file for readings and platform state. Three connections, each behind its own serial
 * queue: readings (and their downsampling) are written through one, platform state (alerts, rule
 * state, devices) through another, so an alert is never queued behind a batch of readings; the two
 * touch different tables, so their transactions never conflict. Reads go through the third and
 * see committed data without waiting for a write.
 */
export class EmbeddedStore implements TimeSeriesStore, StateStore, SequencedReadings {
  #closing: Promise<void> | undefined;
  /** earliest ts written since the last downsample; -Infinity until the first run (recompute all) */
  #dirtyFrom = Number.NEGATIVE_INFINITY;
  /** raw readings before this were deleted by an earlier run: buckets there are final */
  #rawCutDone = Number.NEGATIVE_INFINITY;
  #replaced: Counter | undefined;
  #nonFinite: Counter<'store'> | undefined;
  readonly #rowLog: ThrottledLog;
  /** newest stored ts per (station, metric), from open on */
  readonly #newestStored = new Map<string, number>();
  /** totals since open, also in /metrics (`huewatch_store_readings_replaced_total`, `huewatch_store_non_finite_dropped_total`) */
  readonly stats = { replacedReadings: 0, nonFiniteDropped: 0 };

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly writers: Readonly<Record<WriteLane, DuckDBConnection>>,
    private readonly reader: DuckDBConnection,
    private readonly writes: Readonly<Record<WriteLane, SerialQueue>>,
    private readonly reads: SerialQueue,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.#rowLog = new ThrottledLog(log, ROW_PROBLEM_LOG_INTERVAL_MS, now);
  }

  /** Registers (get-or-create) the store's counters in `reg`; openEmbeddedStore calls it with `metrics`. */
  useMetrics(reg: Registry): void {
    this.#replaced = (reg.getSingleMetric('huewatch_store_readings_replaced_total') as Counter | undefined) ?? new Counter({
      name: 'huewatch_store_readings_replaced_total', registers: [reg],
      help: 'Stored readings replaced by a write with the same (station, metric, ts) and another value or seq (last write wins)',
    });
    this.#nonFinite = nonFiniteCounter(reg);
  }

  /** Raises the bound of stored ts (openEmbeddedStore calls it with `max(ts)` of the file). */
  noteStoredTs(station: string, metric: string, ts: number): void {
    const k = seriesKey(station, metric);
    if (ts > (this.#newestStored.get(k) ?? Number.NEGATIVE_INFINITY)) this.#newestStored.set(k, ts);
  }

  /** Can any of these rows meet a stored one? Only if it is not newer than its series' newest. */
  #mayReplace(rows: readonly StoredReading[]): boolean {
    for (const r of rows) if (r.ts <= (this.#newestStored.get(seriesKey(r.station, r.metric)) ?? Number.NEGATIVE_INFINITY)) return true;
    return false;
  }

  // ---- time series

  /**
   * Last write wins on (station, metric, ts). A row replacing a stored reading with another value
   * or seq is counted (`huewatch_store_readings_replaced_total`) and logged once per interval with
   * both seqs. A row whose value is NaN or ±Infinity is not a measurement: it is dropped alone
   * (counted, logged once per interval) and the rest of the batch is written.
   */
  async writeReadings(rows: readonly StoredReading[]): Promise<void> {
    if (rows.length === 0) return;
    const unique = lastWins(this.#finiteOnly(rows));
    if (unique.length === 0) return;
    let minTs = Number.POSITIVE_INFINITY;
    let maxTs = Number.NEGATIVE_INFINITY;
    for (const r of unique) {
      if (r.ts < minTs) minTs = r.ts;
      if (r.ts > maxTs) maxTs = r.ts;
    }
    if (minTs < this.#dirtyFrom) this.#dirtyFrom = minTs;
    let replaced = 0;
    let example: unknown;
    await this.#write(async (c) => {
      // Every batch goes through the staging table: fresh rows (live data) on to the table by a
      // plain insert, others by counted replacements and one upsert.
      try {
        await appendRows(c, 'readings_staging', unique);
        if (this.#mayReplace(unique)) {
          const [found] = (await c.runAndReadAll(replacedSql(minTs, maxTs))).getRowsJS();
          replaced = num(found?.[0] ?? 0);
          example = found?.[1];
          await c.run(UPSERT_FROM_STAGING);
        } else {
          // Fresh rows (each newer than its series' newest: live data) can meet no stored row: a plain
          // insert, without the conflict check. (Appending straight into the table would commit on
          // the event loop's thread: the appender's close is synchronous.)
          await c.run('INSERT INTO readings SELECT * FROM temp.main.readings_staging').catch(async (err: unknown) => {
            // a statement is atomic: nothing of it was kept; the upsert is always right
            this.log.warn({ err: String(err) }, 'a batch of fresh readings met stored rows: written by upsert instead');
            await c.run(UPSERT_FROM_STAGING);
          });
        }
      } finally {
        // emptied whatever happened: rows of a failed write must not ride along with the next one
        await c.run('DELETE FROM temp.main.readings_staging');
      }
      // inside the task, so the next queued write sees it (a rollback leaves it high: still a bound)
      for (const r of unique) this.noteStoredTs(r.station, r.metric, r.ts);
    }, true, 'series');
    if (replaced > 0) {
      this.stats.replacedReadings += replaced;
      this.#replaced?.inc(replaced);
      const e = example as Record<string, JS> | null | undefined;
      this.#rowLog.warn('replaced', {
        replaced, station: e?.station, metric: e?.metric, ts: e ? num(e.ts) : undefined,
        storedSeq: e?.stored_seq == null ? null : num(e.stored_seq), newSeq: e?.new_seq == null ? null : num(e.new_seq),
        storedValue: e?.stored_value, newValue: e?.new_value, storedDevice: e?.stored_device, newDevice: e?.new_device,
      }, 'stored readings replaced by another value or seq for the same (station, metric, ts): last write wins');
    }
  }

  #finiteOnly(rows: readonly StoredReading[]): readonly StoredReading[] {
    let bad = 0;
    for (const r of rows) if (!Number.isFinite(r.value)) bad++;
    if (bad === 0) return rows;
    const kept: StoredReading[] = [];
    for (const r of rows) {
      if (Number.isFinite(r.value)) {
        kept.push(r);
        continue;
      }
      this.#rowLog.warn(`nonfinite\u0000${r.station}\u0000${r.metric}`, { station: r.station, metric: r.metric, ts: r.ts, device: r.device, seq: r.seq, value: String(r.value) },
        'reading with a non-finite value (NaN/Infinity) dropped; the rest of the batch is written');
    }
    this.stats.nonFiniteDropped += bad;
    this.#nonFinite?.inc({ store: 'embedded' }, bad);
    return kept;
  }

  async series(q: SeriesQuery): Promise<SeriesPoint[]> {
    requireInt('from', q.from);
    requireInt('to', q.to);
    if (q.to <= q.from) return [];
    const res = q.resolution ?? 'raw';
    if (res !== 'raw' && (q.every === undefined || q.every % RESOLUTION_MS[res] !== 0)) {
      throw badRequest(`resolution ${res} needs every to be a multiple of it`);
    }
    const table = res === 'raw' ? 'readings' : `readings_${res}`;
    const where = `FROM ${table} WHERE station = $1 AND metric = $2 AND ts >= $3 AND ts < $4`;
    const params: DuckDBValue[] = [q.station, q.metric, BigInt(q.from), BigInt(q.to)];
    const types: DuckDBType[] = [VARCHAR, VARCHAR, BIGINT, BIGINT];
    let sql: string;
    if (q.every === undefined) {
      sql = `SELECT ts, value ${where} ORDER BY ts`;
    } else {
      if (!Number.isSafeInteger(q.every) || q.every <= 0) throw badRequest(`every must be a positive integer of ms, got ${q.every}`);
      const fn = q.fn ?? 'mean';
      if (!AGGREGATES.includes(fn)) throw badRequest(`unknown aggregate "${String(fn)}"`);
      // floor to a multiple of `every` counted from the Unix epoch, also for ts < 0
      const agg = res === 'raw' ? AGG_SQL[fn] : AGG_OF_AGG_SQL[fn];
      sql = `SELECT ts - ((ts % $5) + $5) % $5 AS bucket, ${agg} AS value ${where} GROUP BY bucket ORDER BY bucket`;
      params.push(BigInt(q.every));
      types.push(BIGINT);
    }
    const rows = await this.#query(sql, params, types);
    return rows.map((r) => ({ ts: num(r[0]), value: num(r[1]) }));
  }

  async latest(station: string): Promise<LatestValue[]> {
    // ts is unique per (station, metric), so each arg_max picks from the same row
    const rows = await this.#query(
      `SELECT metric, arg_max(value, ts), max(ts), arg_max(quality, ts), arg_max(device, ts)
       FROM readings WHERE station = $1 GROUP BY metric ORDER BY metric`,
      [station], [VARCHAR],
    );
    return rows.map((r) => ({
      metric: r[0] as MetricName, value: num(r[1]), ts: num(r[2]), quality: r[3] as Quality, device: String(r[4]),
    }));
  }

  async sequencedSince(from: number, limit = Number.MAX_SAFE_INTEGER): Promise<SequencedRow[]> {
    const rows = await this.#query(
      `SELECT device, seq, ts, metric, value FROM readings WHERE seq IS NOT NULL AND ts >= $1 ORDER BY ts DESC LIMIT $2`,
      [BigInt(Math.trunc(from)), BigInt(Math.max(0, Math.trunc(limit)))], [BIGINT, BIGINT],
    );
    return rows.map((r) => ({ device: String(r[0]), seq: num(r[1]), ts: num(r[2]), metric: r[3] as MetricName, value: num(r[4]) }));
  }

  async count(filter: { station?: string; metric?: MetricName } = {}): Promise<number> {
    const conds: string[] = [];
    const params: DuckDBValue[] = [];
    if (filter.station !== undefined) params.push(filter.station), conds.push(`station = $${params.length}`);
    if (filter.metric !== undefined) params.push(filter.metric), conds.push(`metric = $${params.length}`);
    const where = conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : '';
    const rows = await this.#query(`SELECT count(*) FROM readings ${where}`, params, params.map(() => VARCHAR));
    return num(rows[0]?.[0] ?? 0);
  }

  async downsample(now: number, retention: RetentionPolicy): Promise<void> {
    requireInt('now', now);
    // cut-offs on whole days: an hourly or daily bucket is either complete in raw data or final
    const rawCut = floorTo(now - retention.rawMs, DAY);
    const hourlyCut = floorTo(now - retention.hourlyMs, DAY);
    const dailyCut = floorTo(now - retention.dailyMs, DAY);
    const dirty = this.#dirtyFrom;
    this.#dirtyFrom = Number.POSITIVE_INFINITY; // writes from here on are caught by the next run
    // aggregate before deleting, so raw data about to expire still lands in its buckets
    const fromHour = Math.max(this.#rawCutDone, Number.isFinite(dirty) ? floorTo(dirty, HOUR) : dirty);
    const fromDay = Math.max(this.#rawCutDone, Number.isFinite(dirty) ? floorTo(dirty, DAY) : dirty);
    try {
      await this.#write(async (c) => {
        if (dirty !== Number.POSITIVE_INFINITY) {
          await c.run(`INSERT OR REPLACE INTO readings_1h
            SELECT station, metric, ts - ((ts % ${HOUR}) + ${HOUR}) % ${HOUR} AS b, min(value), max(value), sum(value), count(*),
                   arg_max(value, ts), max(ts)
            FROM readings WHERE ts >= $1 GROUP BY station, metric, b`, [BigInt(Math.max(fromHour, Number.MIN_SAFE_INTEGER))], [BIGINT]);
          await c.run(`INSERT OR REPLACE INTO readings_1d
            SELECT station, metric, ts - ((ts % ${DAY}) + ${DAY}) % ${DAY} AS b, min(min), max(max), sum(sum), sum(count),
                   arg_max(last, last_ts), max(last_ts)
            FROM readings_1h WHERE ts >= $1 GROUP BY station, metric, b`, [BigInt(Math.max(fromDay, Number.MIN_SAFE_INTEGER))], [BIGINT]);
        }
        await c.run('DELETE FROM readings WHERE ts < $1', [BigInt(rawCut)], [BIGINT]);
        await c.run('DELETE FROM readings_1h WHERE ts < $1', [BigInt(hourlyCut)], [BIGINT]);
        await c.run('DELETE FROM readings_1d WHERE ts < $1', [BigInt(dailyCut)], [BIGINT]);
      }, true, 'series');
      this.#rawCutDone = Math.max(this.#rawCutDone, rawCut);
    } catch (err) {
      this.#dirtyFrom = Math.min(this.#dirtyFrom, dirty); // not done: the next run covers it again
      throw err;
    }
  }

  // ---- devices

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const rows = await this.#query(`SELECT device_id, station, secret_hash, created_at, disabled FROM devices WHERE device_id = $1`, [deviceId], [VARCHAR]);
    return rows[0] && toDevice(rows[0]);
  }

  async putDevice(rec: DeviceRecord): Promise<void> {
    requireInt('createdAt', rec.createdAt);
    await this.#write((c) => c.run(
      `INSERT INTO devices VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) DO UPDATE SET
         station = excluded.station, secret_hash = excluded.secret_hash, created_at = excluded.created_at, disabled = excluded.disabled`,
      [rec.deviceId, rec.station, rec.secretHash, BigInt(rec.createdAt), rec.disabled], [VARCHAR, VARCHAR, VARCHAR, BIGINT, BOOLEAN],
    ));
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.#write((c) => c.run('DELETE FROM devices WHERE device_id = $1', [deviceId], [VARCHAR]));
  }

  async listDevices(): Promise<DeviceRecord[]> {
    const rows = await this.#query(`SELECT device_id, station, secret_hash, created_at, disabled FROM devices ORDER BY device_id`);
    return rows.map(toDevice);
  }

  // ---- alerts

  async appendAlertEvent(event: AlertEvent, cause?: unknown): Promise<void> {
    const ev = alertEvent.parse(event); // what goes in must come back out through the same schema
    const eventJson = JSON.stringify(ev);
    const causeJson = cause === undefined ? null : (JSON.stringify(cause) ?? null);
    const at = BigInt(this.now());
    await this.#write(async (c) => {
      // a redelivered (id, eventSeq) is a no-op; an older event arriving late joins the history
      // but does not replace a newer current shape
      await c.run(`INSERT INTO alert_events VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [ev.id, ev.eventSeq, eventJson, causeJson, at], [VARCHAR, INTEGER, VARCHAR, VARCHAR, BIGINT]);
      await c.run(
        `INSERT INTO alerts VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET
           key = excluded.key, status = excluded.status, event_seq = excluded.event_seq,
           latest = excluded.latest, updated_at = excluded.updated_at
         WHERE excluded.event_seq > alerts.event_seq`,
        [ev.id, ev.key, ev.status, ev.eventSeq, eventJson, BigInt(Date.parse(ev.sent))],
        [VARCHAR, VARCHAR, VARCHAR, INTEGER, VARCHAR, BIGINT],
      );
    }, true);
  }

  async getAlert(id: string): Promise<AlertEvent | undefined> {
    const rows = await this.#query(`SELECT latest FROM alerts WHERE id = $1`, [id], [VARCHAR]);
    return rows[0] && alertEvent.parse(JSON.parse(String(rows[0][0])));
  }

  async alertHistory(id: string): Promise<Array<{ event: AlertEvent; cause: unknown }>> {
    const rows = await this.#query(`SELECT event, cause FROM alert_events WHERE id = $1 ORDER BY event_seq`, [id], [VARCHAR]);
    return rows.map((r) => ({
      event: alertEvent.parse(JSON.parse(String(r[0]))),
      cause: r[1] === null ? undefined : JSON.parse(String(r[1])),
    }));
  }

  /** Newest first: by the `sent` time of each alert's latest event, then by id. */
  async listAlerts(filter: { status?: AlertEvent['status'][] } = {}): Promise<AlertEvent[]> {
    let rows: JS[][];
    if (filter.status === undefined) {
      rows = await this.#query(`SELECT latest FROM alerts ORDER BY updated_at DESC, id`);
    } else {
      if (filter.status.length === 0) return [];
      rows = await this.#query(`SELECT latest FROM alerts WHERE list_contains($1, status) ORDER BY updated_at DESC, id`,
        [listValue(filter.status)], [LIST(VARCHAR)]);
    }
    return rows.map((r) => alertEvent.parse(JSON.parse(String(r[0]))));
  }

  // ---- small JSON documents. Values come back as stored: callers validate with their own schema.

  async getJson<T>(namespace: string, key: string): Promise<T | undefined> {
    const rows = await this.#query(`SELECT value FROM kv WHERE namespace = $1 AND key = $2`, [namespace, key], [VARCHAR, VARCHAR]);
    return rows[0] && (JSON.parse(String(rows[0][0])) as T);
  }

  async putJson(namespace: string, key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    if (json === undefined) throw badRequest(`kv ${namespace}/${key}: value is not JSON-serialisable`);
    const at = BigInt(this.now());
    await this.#write((c) => c.run(
      `INSERT INTO kv VALUES ($1, $2, $3, $4) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [namespace, key, json, at], [VARCHAR, VARCHAR, VARCHAR, BIGINT],
    ));
  }

  async writeJsonBatch(namespace: string, changes: ReadonlyArray<{ key: string; value?: unknown }>): Promise<void> {
    if (changes.length === 0) return;
    const last = new Map<string, string | null>();
    for (const { key, value } of changes) {
      if (value === undefined) {
        last.set(key, null);
        continue;
      }
      const json = JSON.stringify(value);
      if (json === undefined) throw badRequest(`kv ${namespace}/${key}: value is not JSON-serialisable`);
      last.set(key, json);
    }
    const at = BigInt(this.now());
    await this.#write(async (c) => {
      const appender = await c.createAppender('kv_staging', 'main', 'temp');
      try {
        for (const [key, json] of last) {
          appender.appendVarchar(key);
          if (json === null) appender.appendNull();
          else appender.appendVarchar(json);
          appender.endRow();
        }
      } finally {
        appender.closeSync();
      }
      await c.run(
        `INSERT INTO kv SELECT $1, key, value, $2 FROM temp.main.kv_staging WHERE value IS NOT NULL
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [namespace, at], [VARCHAR, BIGINT],
      );
      await c.run(`DELETE FROM kv WHERE namespace = $1 AND key IN (SELECT key FROM temp.main.kv_staging WHERE value IS NULL)`, [namespace], [VARCHAR]);
      await c.run('DELETE FROM temp.main.kv_staging');
    }, true);
  }

  async deleteJson(namespace: string, key: string): Promise<void> {
    await this.#write((c) => c.run(`DELETE FROM kv WHERE namespace = $1 AND key = $2`, [namespace, key], [VARCHAR, VARCHAR]));
  }

  async listJson<T>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    const rows = await this.#query(`SELECT key, value FROM kv WHERE namespace = $1 ORDER BY key`, [namespace], [VARCHAR]);
    return rows.map((r) => ({ key: String(r[0]), value: JSON.parse(String(r[1])) as T }));
  }

  // ---- lifecycle

  /**
   * Lets queued operations finish, checkpoints the WAL into the file and releases it, so another
   * process can open the file as soon as this resolves. Later calls are refused (HW_ERR_STORE_CLOSED).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([this.writes.state.drain(), this.writes.series.drain(), this.reads.drain()]);
      try {
        await this.writers.state.run('CHECKPOINT');
      } finally {
        this.reader.closeSync();
        this.writers.series.closeSync();
        this.writers.state.closeSync();
        this.instance.closeSync();
      }
      this.log.info('embedded store closed');
    })();
    return this.#closing;
  }

  #write(task: (c: DuckDBConnection) => Promise<unknown>, transaction = false, lane: WriteLane = 'state'): Promise<void> {
    if (this.#closing) return Promise.reject(closedError());
    const c = this.writers[lane];
    return this.writes[lane].run(async () => {
      if (!transaction) return void (await task(c));
      await c.run('BEGIN TRANSACTION');
      try {
        await task(c);
        await c.run('COMMIT');
      } catch (err) {
        await c.run('ROLLBACK');
        throw err;
      }
    });
  }

  #query(sql: string, params: DuckDBValue[] = [], types: DuckDBType[] = []): Promise<JS[][]> {
    if (this.#closing) return Promise.reject(closedError());
    return this.reads.run(async () => (await this.reader.runAndReadAll(sql, params, types)).getRowsJS());
  }
}

/** Keeps the last row per (station, metric, ts): one statement may not update a row twice. */
function lastWins(rows: readonly StoredReading[]): StoredReading[] {
  const byKey = new Map<string, StoredReading>();
  for (const r of rows) {
    requireInt('ts', r.ts);
    byKey.set(`${r.station}\u0000${r.metric}\u0000${r.ts}`, r);
  }
  return byKey.size === rows.length ? [...rows] : [...byKey.values()];
}

function toChunk(rows: readonly StoredReading[]): DuckDBDataChunk {
  const chunk = DuckDBDataChunk.create(READING_TYPES, rows.length);
  chunk.setColumns([
    rows.map((r) => r.station),
    rows.map((r) => r.metric),
    rows.map((r) => BigInt(r.ts)),
    rows.map((r) => r.value),
    rows.map((r) => r.device),
    rows.map((r) => (r.seq === undefined ? null : BigInt(r.seq))),
    rows.map((r) => r.quality),
  ]);
  return chunk;
}

function toDevice(r: JS[]): DeviceRecord {
  return { deviceId: String(r[0]), station: String(r[1]), secretHash: String(r[2]), createdAt: num(r[3]), disabled: r[4] === true };
}

function num(v: JS | undefined): number {
  return Number(v); // BIGINT arrives as bigint; epoch ms and counts fit in a double exactly
}

function requireInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw badRequest(`${name} must be an integer epoch ms, got ${v}`);
}

function badRequest(message: string): StoreError {
  return new StoreError(StoreErrorCode.BAD_REQUEST, message);
}

function closedError(): StoreError {
  return new StoreError(StoreErrorCode.CLOSED, 'embedded store is closed');
}
