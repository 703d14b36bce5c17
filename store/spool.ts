import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIGINT, DOUBLE, VARCHAR, DuckDBDataChunk, DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ErrorCode } from '../contract/errors.ts';
import type { MetricName, Quality } from '../contract/metrics.ts';
import type { Logger } from '../lib/log.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import { SerialQueue, StoreError, StoreErrorCode } from './serial-queue.ts';
import type { LatestValue, RetentionPolicy, SeriesPoint, SeriesQuery, StoredReading, TimeSeriesStore } from './types.ts';

/**
 * Readings in the spool at most. A spooled reading takes ~25–40 bytes in the DuckDB file
 * (columnar, compressed; measured in bench/store.ts), so 5 M readings are ~150–200 MB of disk:
 * a whole province (≈ 300 stations × 5 metrics every 5 min ≈ 430k readings a day) for more than
 * ten days of store outage. Past it writes are refused, not dropped: see SpoolingStore.
 */
export const DEFAULT_SPOOL_MAX_ROWS = 5_000_000;
/**
 * How long a write may take in the primary before it is spooled instead. The InfluxDB adapter's
 * own retries take up to 0.5 + 1 + 2 s; past 5 s the caller (ingest, holding an MQTT ack) is better
 * served by the disk than by waiting.
 */
export const DEFAULT_PRIMARY_TIMEOUT_MS = 5_000;
/** InfluxDB's recommended write batch (5,000 lines); also a DuckDB read of a few ms. */
export const DEFAULT_REPLAY_BATCH_ROWS = 5_000;
/** Replay retries back off from 0.5 s to 10 s while the primary stays down. */
export const DEFAULT_RETRY_DELAY_MS = Object.freeze({ min: 500, max: 10_000 });

export interface SpoolingStoreOptions {
  /** where readings go when it answers in time: InfluxDB or the embedded store */
  primary: TimeSeriesStore;
  /** the spool's DuckDB file, e.g. DATA_DIR/spool.duckdb (parent folders are created) */
  file: string;
  /** readings the spool holds at most; beyond it writes fail with HW_ERR_SPOOL_FULL */
  maxRows?: number;
  primaryTimeoutMs?: number;
  replayBatchRows?: number;
  retryDelayMs?: { min: number; max: number };
  log: Logger;
  metrics: Registry;
  clock?: { now(): number };
}

const SPOOL_TYPES = [BIGINT, VARCHAR, VARCHAR, VARCHAR, BIGINT, DOUBLE, BIGINT, VARCHAR];
/** DuckDB's vector size: a data chunk holds at most this many rows */
const CHUNK_ROWS = 2048;
/** codes that say "the primary will not take this, ever": spooling them would block the replay */
const REFUSED_CODES: ReadonlySet<string> = new Set([ErrorCode.BAD_REQUEST, ErrorCode.STORE_REJECTED]);

/** What /health shows while the primary does not take writes (readings are spooled meanwhile). */
export interface StoreProblem {
  /** the primary's error code, e.g. HW_ERR_STORE_UNAVAILABLE */
  code: string;
  /** the primary's last error message, e.g. "… 404 … database not found" */
  problem: string;
  /** HTTP status, when the primary is a remote store that answered */
  status?: number;
  /** true when the store refuses every write (missing database/bucket, auth): fix the configuration */
  refusesAll: boolean;
  /** epoch ms of the first failure of this outage */
  since: number;
  /** epoch ms of the latest failure */
  lastAt: number;
  /** readings waiting in the spool */
  depth: number;
}

/**
 * A TimeSeriesStore in front of another one that never loses an accepted write while the other is
 * down or slow (DESIGN.md "Storage": ingest spools to disk and replays in order).
 *
 * - `writeReadings` writes to the primary (within `primaryTimeoutMs`); when that fails or times
 *   out, it appends the rows to a DuckDB file and resolves: the rows are on disk (the append is a
 *   committed DuckDB transaction, WAL synced), so the caller may acknowledge them.
 * - While the spool holds anything, every new write is appended behind it, and one replay loop
 *   sends the oldest `replayBatchRows` to the primary, deletes them once accepted, and repeats;
 *   with the primary still down it retries with backoff. Order is the order of appends; calls that
 *   overlap in time have no order between them (as with any concurrent writer).
 * - At `maxRows` a write is refused with HW_ERR_SPOOL_FULL, counted
 *   (`huewatch_spool_refused_readings_total`) and logged: the caller (ingest) then does not
 *   acknowledge, the broker keeps the QoS 1 message and devices keep theirs (store-and-forward),
 *   so a full spool is backpressure, never loss.
 * - A row the primary refuses for good during replay (HW_ERR_STORE_REJECTED / HW_ERR_BAD_REQUEST,
 *   e.g. a field type conflict made by another writer) is retried alone, and if still refused it
 *   is removed, counted (`huewatch_spool_dropped_readings_total`) and logged with the row: it
 *   would otherwise block every reading behind it forever.
 * - A primary write that timed out may still land later; the stores are idempotent on
 *   (station, metric, ts), so the replayed copy changes nothing.
 * - Reads go to the primary: spooled readings are visible once replayed.
 *
 * `close()` stops the replay loop and closes the spool file; it does not close the primary.
 */
export class SpoolingStore implements TimeSeriesStore {
  readonly #o: Required<Omit<SpoolingStoreOptions, 'clock'>>;
  readonly #log: Logger;
  readonly #throttled: ThrottledLog;
  readonly #m: ReturnType<typeof spoolMetrics>;
  #instance: DuckDBInstance | undefined;
  #conn: DuckDBConnection | undefined;
  /** the spool connection runs one statement at a time (store/README.md, duckdb-node-neo#141) */
  readonly #queue = new SerialQueue(100_000);
  /** committed rows in the spool */
  #depth = 0;
  /** rows whose append is queued or running */
  #reserved = 0;
  #nextId = 1;
  /** true from the first spooled write until the replay loop finds the spool empty */
  #spooling = false;
  #replay: Promise<void> | undefined;
  #closed = false;
  readonly #stop = new AbortController();
  #spoolSince = 0;
  #replayedThisOutage = 0;
  /** set from a failed primary write (not a refusal) until the primary takes a write again */
  #outage: Omit<StoreProblem, 'depth'> | undefined;
  readonly #now: () => number;

  constructor(opts: SpoolingStoreOptions) {
    this.#o = {
      maxRows: DEFAULT_SPOOL_MAX_ROWS, primaryTimeoutMs: DEFAULT_PRIMARY_TIMEOUT_MS, replayBatchRows: DEFAULT_REPLAY_BATCH_ROWS,
      retryDelayMs: DEFAULT_RETRY_DELAY_MS, ...opts,
    };
    this.#log = opts.log.child({ module: 'spool' });
    const now = () => (opts.clock ?? Date).now();
    this.#now = now;
    this.#throttled = new ThrottledLog(this.#log, 10_000, now);
    this.#m = spoolMetrics(opts.metrics, opts.file, () => this.#depth, () => (this.#outage ? 1 : 0));
  }

  /** rows waiting in the spool (committed) */
  get depth(): number {
    return this.#depth;
  }

  /**
   * True while the primary store does not take writes (unreachable, timing out, or refusing every
   * write: a missing database or bucket, 401/403): readings are being spooled, not stored. Also
   * `huewatch_store_outage` (1/0) in /metrics. Clears when the primary takes a write again.
   */
  get outage(): boolean {
    return this.#outage !== undefined;
  }

  /** For /health: empty when the primary takes writes; otherwise the outage, with the spool depth. */
  problems(): StoreProblem[] {
    return this.#outage ? [{ ...this.#outage, depth: this.#depth }] : [];
  }

  #primaryFailed(err: unknown): void {
    const status = (err as { status?: unknown }).status;
    const refusesAll = (err as { outage?: unknown }).outage === true;
    const at = this.#now();
    const since = this.#outage?.since ?? at;
    const wasRefusingAll = this.#outage?.refusesAll;
    this.#outage = {
      code: codeOf(err), problem: err instanceof Error ? err.message : String(err), refusesAll, since, lastAt: at,
      ...(typeof status === 'number' ? { status } : {}),
    };
    if (refusesAll && !wasRefusingAll) {
      // not throttled with the rest: this needs an operator (create the database, fix the token)
      this.#log.error({ code: codeOf(err), status, problem: this.#outage.problem }, 'store refuses every write: readings are spooled until it takes them');
    }
  }

  #primaryTook(): void {
    if (!this.#outage) return;
    this.#log.info({ seconds: Math.round((this.#now() - this.#outage.since) / 1000), code: this.#outage.code }, 'store takes writes again');
    this.#outage = undefined;
  }

  /** Opens (or recovers) the spool file; replays what a previous run left in it. */
  async start(): Promise<void> {
    await mkdir(dirname(this.#o.file), { recursive: true });
    const instance = await DuckDBInstance.create(this.#o.file);
    try {
      const conn = await instance.connect();
      this.#conn = conn;
      await conn.run(`CREATE TABLE IF NOT EXISTS spool (
        id BIGINT NOT NULL, station VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
        ts BIGINT NOT NULL, value DOUBLE NOT NULL, seq BIGINT, quality VARCHAR NOT NULL)`);
      const [row] = (await conn.runAndReadAll('SELECT count(*), coalesce(max(id), 0) FROM spool')).getRowsJS();
      this.#depth = Number(row?.[0] ?? 0);
      this.#nextId = Number(row?.[1] ?? 0) + 1;
    } catch (err) {
      this.#conn?.closeSync();
      instance.closeSync();
      throw err;
    }
    this.#instance = instance;
    this.#m.depth.set(this.#depth);
    this.#log.info({ file: this.#o.file, depth: this.#depth, maxRows: this.#o.maxRows }, 'spool open');
    if (this.#depth > 0) this.#enterSpooling();
  }

  async writeReadings(rows: readonly StoredReading[]): Promise<void> {
    if (this.#closed || !this.#conn) throw new StoreError(StoreErrorCode.CLOSED, 'spool is not open');
    if (rows.length === 0) return;
    if (!this.#spooling) {
      const end = this.#m.latency.startTimer({ target: 'primary' });
      try {
        await withTimeout(this.#o.primary.writeReadings(rows), this.#o.primaryTimeoutMs);
        end();
        this.#m.written.inc({ path: 'primary' }, rows.length);
        this.#primaryTook();
        return;
      } catch (err) {
        if (REFUSED_CODES.has(codeOf(err))) throw err;
        this.#primaryFailed(err);
        this.#m.primaryFailures.inc({ code: codeOf(err) });
        this.#throttled.warn('primary', { err: String(err), code: codeOf(err) }, 'store write failed: spooling to disk');
      }
    }
    await this.#append(rows);
  }

  series(q: SeriesQuery): Promise<SeriesPoint[]> {
    return this.#o.primary.series(q);
  }

  latest(station: string): Promise<LatestValue[]> {
    return this.#o.primary.latest(station);
  }

  count(filter?: { station?: string; metric?: MetricName }): Promise<number> {
    return this.#o.primary.count(filter);
  }

  /** Runs on the primary; readings still in the spool are aggregated once replayed (the next run). */
  downsample(now: number, retention: RetentionPolicy): Promise<void> {
    return this.#o.primary.downsample(now, retention);
  }

  /** Stops replaying (what is left stays on disk for the next start) and closes the spool file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    await this.#replay;
    await this.#queue.drain();
    if (this.#conn) {
      try {
        await this.#conn.run('CHECKPOINT');
      } finally {
        this.#conn.closeSync();
        this.#instance?.closeSync();
      }
    }
    this.#log.info({ depth: this.#depth }, 'spool closed');
  }

  async #append(rows: readonly StoredReading[]): Promise<void> {
    if (this.#depth + this.#reserved + rows.length > this.#o.maxRows) {
      this.#m.refused.inc(rows.length);
      this.#throttled.warn('full', { depth: this.#depth, maxRows: this.#o.maxRows, refused: rows.length },
        'spool full: readings refused (not acknowledged; the broker and devices keep them)');
      throw new StoreError(StoreErrorCode.SPOOL_FULL, `spool holds ${this.#depth} of at most ${this.#o.maxRows} readings`);
    }
    this.#reserved += rows.length;
    this.#enterSpooling();
    const end = this.#m.latency.startTimer({ target: 'spool' });
    try {
      await this.#queue.run(async () => {
        const appender = await this.#conn!.createAppender('spool');
        try {
          for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
            appender.appendDataChunk(toChunk(rows.slice(i, i + CHUNK_ROWS), this.#nextId + i));
          }
        } finally {
          appender.closeSync(); // flush = one committed transaction, synced to the WAL
        }
        this.#nextId += rows.length;
      });
      this.#depth += rows.length;
    } finally {
      this.#reserved -= rows.length;
    }
    end();
    this.#m.written.inc({ path: 'spool' }, rows.length);
    this.#m.depth.set(this.#depth);
  }

  #enterSpooling(): void {
    if (!this.#spooling) {
      this.#spooling = true;
      this.#spoolSince = Date.now();
      this.#replayedThisOutage = 0;
    }
    this.#replay ??= this.#replayLoop().finally(() => { this.#replay = undefined; });
  }

  async #replayLoop(): Promise<void> {
    let delay = this.#o.retryDelayMs.min;
    while (!this.#closed) {
      const batch = await this.#queue.run(() => this.#readOldest());
      if (batch.rows.length === 0) {
        if (this.#reserved > 0) {
          await this.#pause(5); // an append is about to commit: it must be replayed before leaving
          continue;
        }
        this.#spooling = false;
        if (this.#replayedThisOutage > 0) {
          this.#log.info({ replayed: this.#replayedThisOutage, seconds: Math.round((Date.now() - this.#spoolSince) / 1000) }, 'spool drained');
        }
        return;
      }
      try {
        await withTimeout(this.#o.primary.writeReadings(batch.rows), this.#o.primaryTimeoutMs);
      } catch (err) {
        // a refused batch is retried row by row; if the primary fails (not refuses) meanwhile, the
        // whole batch is retried after the pause like any failed batch (rows already written are
        // rewritten: idempotent)
        const failure = REFUSED_CODES.has(codeOf(err)) ? await this.#replayOneByOne(batch.rows, err).then(() => undefined, (e: unknown) => e) : err;
        if (failure !== undefined) {
          this.#primaryFailed(failure);
          this.#m.retries.inc();
          this.#throttled.warn('replay', { err: String(failure), code: codeOf(failure), depth: this.#depth, retryInMs: delay }, 'spool replay failed, retrying');
          await this.#pause(delay);
          delay = Math.min(delay * 2, this.#o.retryDelayMs.max);
          continue;
        }
      }
      delay = this.#o.retryDelayMs.min;
      this.#primaryTook();
      await this.#queue.run(() => this.#conn!.run('DELETE FROM spool WHERE id <= $1', [BigInt(batch.lastId)], [BIGINT]));
      this.#depth -= batch.rows.length;
      this.#replayedThisOutage += batch.rows.length;
      this.#m.written.inc({ path: 'replay' }, batch.rows.length);
      this.#m.depth.set(this.#depth);
    }
  }

  /** A batch the primary refused: find the rows it refuses and drop only those, loudly. */
  async #replayOneByOne(rows: StoredReading[], cause: unknown): Promise<void> {
    for (const row of rows) {
      try {
        await withTimeout(this.#o.primary.writeReadings([row]), this.#o.primaryTimeoutMs);
      } catch (err) {
        if (!REFUSED_CODES.has(codeOf(err))) throw err; // down again: the whole batch is retried later
        this.#m.dropped.inc({ code: codeOf(err) });
        this.#log.error({ err: String(err), code: codeOf(err), row, batchError: String(cause) }, 'spooled reading refused by the store: dropped');
      }
    }
  }

  async #readOldest(): Promise<{ rows: StoredReading[]; lastId: number }> {
    const result = await this.#conn!.runAndReadAll(
      `SELECT id, station, device, metric, ts, value, seq, quality FROM spool ORDER BY id LIMIT ${Math.trunc(this.#o.replayBatchRows)}`,
    );
    const rows: StoredReading[] = [];
    let lastId = 0;
    for (const r of result.getRowsJS()) {
      lastId = Number(r[0]);
      const row: StoredReading = {
        station: String(r[1]), device: String(r[2]), metric: r[3] as MetricName, ts: Number(r[4]), value: Number(r[5]), quality: r[7] as Quality,
      };
      if (r[6] !== null) row.seq = Number(r[6]);
      rows.push(row);
    }
    return { rows, lastId };
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined);
  }
}

export async function openSpoolingStore(opts: SpoolingStoreOptions): Promise<SpoolingStore> {
  const s = new SpoolingStore(opts);
  await s.start();
  return s;
}

function toChunk(rows: readonly StoredReading[], firstId: number): DuckDBDataChunk {
  const chunk = DuckDBDataChunk.create(SPOOL_TYPES, rows.length);
  chunk.setColumns([
    rows.map((_, i) => BigInt(firstId + i)),
    rows.map((r) => r.station),
    rows.map((r) => r.device),
    rows.map((r) => r.metric),
    rows.map((r) => BigInt(r.ts)),
    rows.map((r) => r.value),
    rows.map((r) => (r.seq === undefined ? null : BigInt(r.seq))),
    rows.map((r) => r.quality),
  ]);
  return chunk;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

/** Rejects with HW_ERR_STORE_UNAVAILABLE after `ms`; the write itself goes on and may still land. */
function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreError(StoreErrorCode.UNAVAILABLE, `store did not answer within ${ms} ms`)), ms);
  });
  p.catch(() => undefined); // a late failure after the timeout has nobody left to tell
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** One set per registry (get-or-create, as ingest/reading-sink.ts does). */
function spoolMetrics(registry: Registry, file: string, depthNow: () => number, outageNow: () => number) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    written: get('huewatch_store_written_readings_total', () => new Counter({
      name: 'huewatch_store_written_readings_total', registers, labelNames: ['path'] as const,
      help: 'Readings made durable: path=primary (straight to the store), spool (to the on-disk spool), replay (spool to store)',
    })),
    latency: get('huewatch_store_write_batch_seconds', () => new Histogram({
      name: 'huewatch_store_write_batch_seconds', registers, labelNames: ['target'] as const,
      help: 'Time to make one write call durable, by target (primary store or spool)',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    })),
    primaryFailures: get('huewatch_store_primary_failures_total', () => new Counter({
      name: 'huewatch_store_primary_failures_total', registers, labelNames: ['code'] as const,
      help: 'Write calls the primary store failed or did not answer in time (those readings were spooled)',
    })),
    retries: get('huewatch_spool_replay_retries_total', () => new Counter({
      name: 'huewatch_spool_replay_retries_total', registers, help: 'Spool replay batches that failed and were retried later',
    })),
    refused: get('huewatch_spool_refused_readings_total', () => new Counter({
      name: 'huewatch_spool_refused_readings_total', registers,
      help: 'Readings refused because the spool was full (not acknowledged: the broker redelivers them)',
    })),
    dropped: get('huewatch_spool_dropped_readings_total', () => new Counter({
      name: 'huewatch_spool_dropped_readings_total', registers, labelNames: ['code'] as const,
      help: 'Spooled readings the store refused for good during replay, removed from the spool',
    })),
    outage: get('huewatch_store_outage', () => new Gauge({
      name: 'huewatch_store_outage', registers,
      help: '1 while the primary store does not take writes (down, timing out, or refusing every write: missing database/bucket, auth); readings are spooled',
      collect() { this.set(outageNow()); },
    })),
    depth: get('huewatch_spool_depth_readings', () => new Gauge({
      name: 'huewatch_spool_depth_readings', registers, help: 'Readings waiting in the on-disk spool',
      collect() { this.set(depthNow()); },
    })),
    bytes: get('huewatch_spool_bytes', () => new Gauge({
      name: 'huewatch_spool_bytes', registers, help: 'Size of the spool file and its WAL on disk',
      async collect() {
        const size = async (f: string) => (await stat(f).catch(() => undefined))?.size ?? 0;
        this.set((await size(file)) + (await size(`${file}.wal`)));
      },
    })),
  };
}
