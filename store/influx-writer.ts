import { setTimeout as sleep } from 'node:timers/promises';
import { canRetryHttpCall, HttpError, type WriteApi } from '@influxdata/influxdb-client';
import type { Logger } from '../lib/log.ts';
import { InfluxErrorCode, InfluxStoreError } from './influxql.ts';
import { StoreError, StoreErrorCode } from './serial-queue.ts';

/** The write knobs; defaults and the reasons for them are in DEFAULT_INFLUX_WRITE_OPTIONS (influx.ts). */
export interface InfluxWriteOptions {
  /** lines per HTTP write */
  batchSize: number;
  /** request bodies larger than this many bytes are gzipped */
  gzipThreshold: number;
  /** retries of a failed batch inside one writeReadings call, after the first attempt */
  maxRetries: number;
  /** first retry delay, doubled per attempt up to maxRetryDelay (ms) */
  minRetryDelay: number;
  maxRetryDelay: number;
  /** random 0..retryJitter ms added to each delay */
  retryJitter: number;
  /** a batch is given up once retrying it would take longer than this (ms) */
  maxRetryTime: number;
  /** lines accepted but not yet sent; beyond it writeReadings fails with HW_ERR_STORE_BUSY */
  maxBufferLines: number;
}

interface Job {
  lines: string[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit over the client's WriteApi. Callers' lines queue up while one batch is in flight;
 * the next batch takes every waiting caller (up to batchSize lines) and each caller's promise
 * settles with the batch that carried its last line. One batch in flight at a time, so batches
 * reach the server in call order and a later rewrite of a point wins.
 *
 * The WriteApi is used for its transport (gzip, timeouts, auth, the v2 write path) and flushed
 * explicitly: its own batch-size trigger and flush timer would send lines whose failure reaches
 * no caller, and its retry buffer would retry after the caller has been told the write failed
 * (ingest then spools and replays: two writers of the same lines). Retries happen here instead,
 * inside the caller's await.
 */
export class GroupCommitWriter {
  #pending: Job[] = [];
  #pendingLines = 0;
  #draining = false;
  #idle: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #stopRetries = new AbortController();

  constructor(
    private readonly api: WriteApi,
    private readonly opts: Readonly<InfluxWriteOptions>,
    private readonly log: Logger,
    /** called once per retried batch (for /metrics) */
    private readonly onRetry: () => void = () => undefined,
  ) {}

  write(lines: string[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError(StoreErrorCode.CLOSED, 'influx store is closed'));
    // an empty queue takes any call, however large, so no call can be refused forever
    if (this.#pendingLines > 0 && this.#pendingLines + lines.length > this.opts.maxBufferLines) {
      return Promise.reject(new StoreError(StoreErrorCode.BUSY, `${this.#pendingLines} lines already wait for InfluxDB`));
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ lines, resolve, reject });
      this.#pendingLines += lines.length;
      if (!this.#draining) {
        this.#draining = true;
        this.#idle = this.#drain();
      }
    });
  }

  /** Sends what is queued (one attempt per batch, no more retries), then closes the WriteApi. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopRetries.abort();
    await this.#idle;
    await this.api.close();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const jobs: Job[] = [];
        const lines: string[] = [];
        // whole callers until the batch is full; one caller larger than a batch goes out in several
        while (this.#pending.length > 0 && (lines.length === 0 || lines.length + this.#pending[0]!.lines.length <= this.opts.batchSize)) {
          const job = this.#pending.shift()!;
          jobs.push(job);
          for (const line of job.lines) lines.push(line);
        }
        this.#pendingLines -= lines.length;
        try {
          for (let i = 0; i < lines.length; i += this.opts.batchSize) await this.#send(lines.slice(i, i + this.opts.batchSize));
          for (const job of jobs) job.resolve();
        } catch (err) {
          for (const job of jobs) job.reject(err);
        }
      }
    } finally {
      // runs in the same turn as the last empty check, so a write() arriving later starts a new drain
      this.#draining = false;
    }
  }

  async #send(batch: string[]): Promise<void> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      // writeRecords + flush in one synchronous turn: the WriteApi buffer holds exactly this batch
      this.api.writeRecords(batch);
      try {
        await this.api.flush();
        return;
      } catch (err) {
        const delay = this.#delay(attempt, err);
        const giveUp = classify(err) !== 'retry' || attempt > this.opts.maxRetries || this.#closed
          || Date.now() - started + delay > this.opts.maxRetryTime;
        if (giveUp) throw toStoreError(err, attempt);
        this.onRetry();
        this.log.warn({ err: String(err), attempt, delayMs: delay, lines: batch.length }, 'InfluxDB write failed, retrying');
        try {
          await sleep(delay, undefined, { signal: this.#stopRetries.signal });
        } catch {
          throw toStoreError(err, attempt); // closing: stop retrying, report the write's own failure
        }
      }
    }
  }

  /** Exponential backoff with jitter; a server's Retry-After (seconds, RFC 9110 §10.2.3) is a floor. */
  #delay(attempt: number, err: unknown): number {
    const backoff = Math.min(this.opts.minRetryDelay * 2 ** (attempt - 1), this.opts.maxRetryDelay);
    const retryAfter = err instanceof HttpError ? err.retryAfter() * 1000 : 0;
    return Math.max(backoff, retryAfter) + Math.round(Math.random() * this.opts.retryJitter);
  }
}

/** Statuses that refuse the points of this request, not the store: a bad line, a field type
 * conflict (1.x and 2.x answer 400, writing the other points of the batch), a point outside the
 * retention period (2.x: 422). Only these make a reading "refused for good". */
const POINT_REFUSALS: ReadonlySet<number> = new Set([400, 422]);

/**
 * What a failed write means:
 * - `retry`: network errors, 408/425/429/5xx (the client's rule): retried here with backoff, then
 *   HW_ERR_STORE_UNAVAILABLE;
 * - `outage`: the store refuses every write whatever the points: 404 (database or bucket not
 *   found), 401/403 (token, permissions), any other status but 400/422. Not retried here (retrying
 *   only delays the caller), but HW_ERR_STORE_UNAVAILABLE too, never REJECTED: the caller spools
 *   and replays once the configuration is fixed; nothing is dropped for it;
 * - `refused`: 400/422, the points of this request (HW_ERR_STORE_REJECTED): the caller retries the
 *   rows one by one and drops only those still refused.
 */
export function classify(err: unknown): 'retry' | 'outage' | 'refused' {
  if (err instanceof HttpError) {
    const status = err.statusCode;
    if (POINT_REFUSALS.has(status)) return 'refused';
    // not the client's list (canRetryHttpCall): it retries 404 too
    if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
    return 'outage';
  }
  return canRetryHttpCall(err) ? 'retry' : 'outage';
}

function toStoreError(err: unknown, attempts: number): InfluxStoreError {
  const status = err instanceof HttpError ? err.statusCode : undefined;
  const kind = classify(err);
  const code = kind === 'refused' ? InfluxErrorCode.REJECTED : InfluxErrorCode.UNAVAILABLE;
  const what = err instanceof Error ? err.message : String(err);
  const why = kind === 'outage' ? ` (the store refuses every write: ${status === 404 ? 'database or bucket not found' : status === 401 || status === 403 ? 'not authorised' : 'configuration'}; readings are kept for replay)` : '';
  return new InfluxStoreError(code, `InfluxDB write failed after ${attempts} attempt(s): ${what}${why}`, status, kind === 'outage');
}
