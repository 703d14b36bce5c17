import { Counter, type Registry } from 'prom-client';
import { ErrorCode } from '../contract/errors.ts';

/** Stable codes for store failures (STYLE.md "stable error codes"), defined in contract/errors.ts. */
export const StoreErrorCode = {
  /** the operation queue of a connection is full: the caller should back off (ingest spools) */
  BUSY: ErrorCode.STORE_BUSY,
  /** the store was closed; nothing more is accepted */
  CLOSED: ErrorCode.STORE_CLOSED,
  /** the database file was written by a newer schema than this code knows */
  SCHEMA_NEWER: ErrorCode.STORE_SCHEMA_NEWER,
  /** the store did not answer (in time) */
  UNAVAILABLE: ErrorCode.STORE_UNAVAILABLE,
  /** the on-disk spool is at its bound (store/spool.ts) */
  SPOOL_FULL: ErrorCode.SPOOL_FULL,
  /** input the store refuses (bad bucket width, unknown aggregate, non-integer time) */
  BAD_REQUEST: ErrorCode.BAD_REQUEST,
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}

/**
 * Runs async tasks one at a time, in call order. A DuckDB connection must not run two statements
 * at once (concurrent use of one connection crashed the process: duckdb-node-neo#141, #257), and a
 * connection holds at most one transaction, so BEGIN..COMMIT of one caller must not interleave
 * with another caller's statements.
 *
 * Bounded: at most `limit` tasks wait or run; the next call is refused with HW_ERR_STORE_BUSY
 * instead of queueing without end while the database is slow. Each waiting task holds its
 * arguments (a write batch), so the bound is also a memory bound.
 */
export class SerialQueue {
  readonly limit: number;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`queue limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  /** tasks waiting or running */
  get pending(): number {
    return this.#pending;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#pending >= this.limit) {
      return Promise.reject(new StoreError(StoreErrorCode.BUSY, `store queue full (${this.limit} operations pending)`));
    }
    this.#pending++;
    const result = this.#tail.then(task);
    // the chain continues whatever the task's outcome; the caller sees the outcome through `result`
    this.#tail = result.then(
      () => { this.#pending--; },
      () => { this.#pending--; },
    );
    return result;
  }

  /** resolves once every task queued so far has settled */
  drain(): Promise<void> {
    return this.#tail;
  }
}

/**
 * Shared by both stores (get-or-create in a registry): readings dropped because their value was
 * NaN or ±Infinity, which is not a measurement. Such a row is dropped alone; the rest of its batch
 * is written (store/README.md "Rows that are not measurements").
 */
export function nonFiniteCounter(reg: Registry): Counter<'store'> {
  return (reg.getSingleMetric('huewatch_store_non_finite_dropped_total') as Counter<'store'> | undefined) ?? new Counter({
    name: 'huewatch_store_non_finite_dropped_total', labelNames: ['store'] as const, registers: [reg],
    help: 'Readings whose value was NaN or ±Infinity (not a measurement): dropped alone, the rest of their batch written',
  });
}

/** A problem of one reading (a non-finite value, a replaced reading) is logged at most once per this interval. */
export const ROW_PROBLEM_LOG_INTERVAL_MS = 60_000;
