import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ErrorCode } from '../contract/errors.ts';
import type { Logger } from '../lib/log.ts';
import { ThrottledLog } from '../lib/throttled-log.ts';
import type { StoredReading } from '../store/types.ts';
import { FairQueue } from './fair-queue.ts';

/**
 * Group commit (DESIGN.md "Data-path invariants"): many devices' readings share one store write,
 * and each caller learns when its own rows are durable, so the broker can send its PUBACK only
 * then. One write is in flight at a time; what arrives meanwhile gathers into the next one, so the
 * batch grows with the load and a lone reading still goes out on the next turn of the event loop.
 *
 * At the bound (`maxPendingRows` gathered, not yet written) `add` waits for room before taking
 * more: the caller holds its device's acknowledgement, and the device, out of in-flight window,
 * stops sending (backpressure). A failed write is retried with backoff, rows in the same order,
 * callers still waiting: an outage withholds acknowledgements, it never drops. Only rows the
 * store refuses for good (a bad row, HW_ERR_BAD_REQUEST / HW_ERR_STORE_REJECTED) are dropped:
 * the batch is split into its callers' parts so one device's bad row costs no one else's.
 * A write takes the waiting parts round-robin across devices (fair-queue.ts), so a flooding
 * device's backlog does not delay another device's reading, nor its PUBACK.
 */

export interface GroupCommitOptions {
  write(rows: readonly StoredReading[]): Promise<void>;
  log: Logger;
  metrics: Registry;
  /** rows gathered at most before `add` waits for room (the ingest memory bound) */
  maxPendingRows?: number;
  /** rows per store write at most (a larger gathering is written in several) */
  maxBatchRows?: number;
  retryDelayMs?: { min: number; max: number };
}

/** ~100 bytes a gathered row: 200k rows ≈ 20 MB, five batches of the largest size */
export const DEFAULT_MAX_PENDING_ROWS = 200_000;
/**
 * Rows per write: large enough that a write's fixed cost (a DuckDB commit, an HTTP request;
 * InfluxDB advises 5,000–10,000 lines) is spread thin, small enough that the work a batch does on
 * the event loop's thread (dedupe, row checks, DuckDB's appender: 2–10 µs a row) stays well
 * under the alert latency budget. 40,000 held the loop for hundreds of ms under a backlog.
 */
export const DEFAULT_MAX_BATCH_ROWS = 10_000;
const DEFAULT_RETRY_DELAY_MS = { min: 100, max: 5_000 };
/** refusals that will never succeed for these rows: retrying them would block everyone behind */
const PERMANENT: ReadonlySet<string> = new Set([ErrorCode.BAD_REQUEST, ErrorCode.STORE_REJECTED]);

interface Part {
  /** the device whose rows these are: parts are queued per device */
  key: string;
  rows: readonly StoredReading[];
  resolve(outcome: 'stored' | 'refused'): void;
  reject(err: Error): void;
}

export class GroupCommitClosedError extends Error {
  readonly code = ErrorCode.STORE_CLOSED;
  constructor() {
    super('ingest is stopping: nothing more is taken');
  }
}

export function createGroupCommit(opts: GroupCommitOptions) {
  const maxPending = opts.maxPendingRows ?? DEFAULT_MAX_PENDING_ROWS;
  const maxBatch = opts.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
  const delays = opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const log = opts.log.child({ module: 'group-commit' });
  const throttled = new ThrottledLog(log, 10_000);
  const m = commitMetrics(opts.metrics, () => pendingRows);

  const parts = new FairQueue<Part>();
  let pendingRows = 0;
  let writing: Promise<void> | undefined;
  let scheduled = false;
  let closed = false;
  /** callers waiting for room, in arrival order */
  const roomWaiters: Array<() => void> = [];

  function schedule(): void {
    if (scheduled || writing) return;
    scheduled = true;
    // the rest of this I/O turn (every packet of the socket reads just parsed) joins the batch
    setImmediate(() => {
      scheduled = false;
      if (!writing && parts.length > 0) writing = flush().finally(() => {
        writing = undefined;
        if (parts.length > 0) schedule();
      });
    });
  }

  /** Takes the gathered parts, up to maxBatch rows (at least one part), and writes them. */
  async function flush(): Promise<void> {
    const batch = parts.take(maxBatch);
    const n = batch.reduce((k, p) => k + p.rows.length, 0);
    const rows = batch.length === 1 ? batch[0]!.rows : batch.flatMap((p) => p.rows);
    for (let attempt = 0; ; attempt++) {
      const end = m.seconds.startTimer();
      try {
        await opts.write(rows);
        end();
        m.batches.inc();
        m.rows.inc(rows.length);
        release(n);
        for (const p of batch) p.resolve('stored');
        return;
      } catch (err) {
        const code = (err as { code?: string }).code ?? ErrorCode.INTERNAL;
        if (PERMANENT.has(code)) {
          await writeAlone(batch);
          release(n);
          return;
        }
        m.retries.inc({ code });
        throttled.warn(`retry:${code}`, { err: String(err), code, rows: rows.length, attempt },
          'store write failed: retrying; devices are not acknowledged meanwhile');
        if (code === ErrorCode.SPOOL_FULL && batch.length > 1 && !closed) {
          // the spool has room for less than the whole batch: fill it part by part, in order;
          // what does not fit goes back to the front of the queue and waits
          const stored = await writeUntilRefused(batch);
          release(batch.slice(0, stored).reduce((k, p) => k + p.rows.length, 0));
          const rest = batch.slice(stored);
          parts.putBack(rest);
          if (stored === 0) await sleep(Math.min(delays.max, delays.min * 2 ** attempt));
          return;
        }
        if (closed && attempt >= 2) {
          // stopping with the store refusing: the callers' devices were never acknowledged and resend
          release(n);
          for (const p of batch) p.reject(err as Error);
          return;
        }
        await sleep(Math.min(delays.max, delays.min * 2 ** attempt));
      }
    }
  }

  /** Writes the parts one by one until the store refuses one; returns how many were stored. */
  async function writeUntilRefused(batch: Part[]): Promise<number> {
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      try {
        await opts.write(p.rows);
      } catch {
        return i;
      }
      m.rows.inc(p.rows.length);
      p.resolve('stored');
    }
    return batch.length;
  }

  /** A batch with a permanently refused row: each caller's rows on their own. */
  async function writeAlone(batch: Part[]): Promise<void> {
    for (const p of batch) {
      try {
        await opts.write(p.rows);
        m.rows.inc(p.rows.length);
        p.resolve('stored');
      } catch (err) {
        const code = (err as { code?: string }).code ?? ErrorCode.INTERNAL;
        if (!PERMANENT.has(code)) {
          // the store went down in the middle: back to the front of the queue, in order
          parts.putBack([p]);
          pendingRows += p.rows.length;
          continue;
        }
        m.refused.inc(p.rows.length);
        throttled.warn(`refused:${code}`, { err: String(err), code, rows: p.rows.length, first: p.rows[0] }, 'store refused readings for good: dropped');
        p.resolve('refused');
      }
    }
  }

  function release(rows: number): void {
    pendingRows -= rows;
    m.batchRows.observe(rows);
    while (roomWaiters.length > 0 && pendingRows < maxPending) roomWaiters.shift()!();
  }

  function enqueue(rows: readonly StoredReading[]): Promise<'stored' | 'refused'> {
    return new Promise((resolve, reject) => {
      parts.push({ key: rows[0]?.device ?? '', rows, resolve, reject });
      pendingRows += rows.length;
      schedule();
    });
  }

  return {
    /**
     * Resolves once `rows` are durable in the store ('stored'), or were refused by it for good
     * ('refused', counted and logged); rejects only when closing with the store refusing.
     */
    async add(rows: readonly StoredReading[]): Promise<'stored' | 'refused'> {
      if (closed) throw new GroupCommitClosedError();
      if (rows.length === 0) return 'stored';
      if (pendingRows >= maxPending) {
        m.waits.inc();
        await new Promise<void>((resolve) => roomWaiters.push(resolve));
        if (closed) throw new GroupCommitClosedError();
      }
      return enqueue(rows);
    },
    get pendingRows() {
      return pendingRows;
    },
    /** Takes nothing more; resolves when what was taken is written (or refused). */
    async close(): Promise<void> {
      closed = true;
      for (const w of roomWaiters.splice(0)) w();
      while (writing || parts.length > 0 || scheduled) {
        if (writing) await writing;
        else await new Promise((r) => setImmediate(r));
      }
    },
  };
}
export type GroupCommit = ReturnType<typeof createGroupCommit>;

function commitMetrics(registry: Registry, pending: () => number) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    batches: get('huewatch_ingest_commits_total', () => new Counter({ name: 'huewatch_ingest_commits_total', help: 'Group commits: store writes each holding many devices\' readings', registers: [registry] })),
    rows: get('huewatch_ingest_readings_stored_total', () => new Counter({ name: 'huewatch_ingest_readings_stored_total', help: 'Metric values written to the store', registers: [registry] })),
    refused: get('huewatch_ingest_refused_rows_total', () => new Counter({ name: 'huewatch_ingest_refused_rows_total', help: 'Metric values the store refused for good (dropped)', registers: [registry] })),
    retries: get('huewatch_ingest_commit_retries_total', () => new Counter({ name: 'huewatch_ingest_commit_retries_total', help: 'Group commits retried because the store (and spool) did not take them', labelNames: ['code'], registers: [registry] })),
    waits: get('huewatch_ingest_backpressure_waits_total', () => new Counter({ name: 'huewatch_ingest_backpressure_waits_total', help: 'Messages that waited for room at the ingest bound (their PUBACK was held)', registers: [registry] })),
    seconds: get('huewatch_ingest_write_seconds', () => new Histogram({ name: 'huewatch_ingest_write_seconds', help: 'Time to write one group commit to the store', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] })),
    batchRows: get('huewatch_ingest_commit_rows', () => new Histogram({ name: 'huewatch_ingest_commit_rows', help: 'Rows per group commit', buckets: [1, 10, 100, 1_000, 5_000, 20_000, 50_000], registers: [registry] })),
    pending: get('huewatch_ingest_pending_rows', () => new Gauge({ name: 'huewatch_ingest_pending_rows', help: 'Rows gathered for the next group commit', registers: [registry], collect() { this.set(pending()); } })),
  };
}
