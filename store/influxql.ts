import { ErrorCode } from '../contract/errors.ts';
import { StoreError, StoreErrorCode } from './serial-queue.ts';

/**
 * InfluxQL over the v1-compatible `/query` endpoint: InfluxDB 1.8+, 2.x (through a DBRP mapping)
 * and 3.x all serve it, where Flux does not reach 3.x (DESIGN.md "Storage").
 */

/** Codes of a remote store's failures (defined in contract/errors.ts). */
export const InfluxErrorCode = {
  /** the server could not be reached, timed out or answered 5xx/429 (after retries, for writes) */
  UNAVAILABLE: ErrorCode.STORE_UNAVAILABLE,
  /**
   * the server refused the points of the request (writes: 400/422, a bad line or a field type
   * conflict; queries: any 4xx or statement error). A write refused whatever its points (404
   * missing database or bucket, 401/403) is UNAVAILABLE with `outage` set, never this.
   */
  REJECTED: ErrorCode.STORE_REJECTED,
} as const;
export type InfluxErrorCode = (typeof InfluxErrorCode)[keyof typeof InfluxErrorCode];

/** StoreError widened with the codes above; `code` is what callers and tests match on. */
export class InfluxStoreError extends Error {
  override readonly name = 'InfluxStoreError';
  /**
   * `outage`: the store refuses every write (404 database/bucket not found, 401/403): the code is
   * UNAVAILABLE, so callers keep the readings (spool) instead of dropping them.
   */
  constructor(readonly code: InfluxErrorCode, message: string, readonly status?: number, readonly outage = false) {
    super(message);
  }
}

export type StoreFailure = StoreError | InfluxStoreError;

/**
 * Escapes a string for an InfluxQL quoted literal or identifier. The InfluxQL scanner reads quoted
 * tokens with the same escapes (`\\`, `\'`, `\"`, `\n`; any other `\x` is "bad escape") and refuses a
 * raw newline ("newline in string") — influxql/scanner.go ScanString.
 */
function escapeQuoted(s: string): string {
  return s.replace(/[\\'"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** A double-quoted identifier: measurement, field or tag key. */
export function ident(name: string): string {
  return `"${escapeQuoted(name)}"`;
}

/** A single-quoted string literal: a tag value in WHERE. */
export function literal(value: string): string {
  return `'${escapeQuoted(value)}'`;
}

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}
export interface StatementResult {
  series?: Series[];
  error?: string;
}

export interface QueryTarget {
  url: string;
  token?: string;
  database: string;
  retentionPolicy?: string;
  timeoutMs: number;
}

/**
 * Runs statements in one request (joined by `;`; the server answers each in order) with epoch-ms
 * times. Any statement error fails the whole call: a partial answer would read as "no data".
 */
export async function runInfluxQL(target: QueryTarget, statements: readonly string[]): Promise<StatementResult[]> {
  const params = new URLSearchParams({ db: target.database, epoch: 'ms' });
  if (target.retentionPolicy) params.set('rp', target.retentionPolicy);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  // InfluxDB 2.x/3.x take the token on /query this way; 1.x without auth ignores it
  if (target.token) headers.authorization = `Token ${target.token}`;
  let res: Response;
  try {
    res = await fetch(`${target.url}/query?${params}`, {
      method: 'POST', headers, body: new URLSearchParams({ q: statements.join(';\n') }),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (err) {
    throw new InfluxStoreError(InfluxErrorCode.UNAVAILABLE, `InfluxQL query failed: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    const code = res.status >= 500 || res.status === 429 ? InfluxErrorCode.UNAVAILABLE : InfluxErrorCode.REJECTED;
    throw new InfluxStoreError(code, `InfluxQL query: HTTP ${res.status}: ${text.slice(0, 300)}`, res.status);
  }
  const body = JSON.parse(text) as { results?: Array<StatementResult & { statement_id?: number }>; error?: string };
  const results = body.results ?? [];
  const failed = body.error ?? results.find((r) => r.error)?.error;
  if (failed !== undefined || results.length !== statements.length) {
    throw new InfluxStoreError(InfluxErrorCode.REJECTED, `InfluxQL query: ${failed ?? `expected ${statements.length} results, got ${results.length}`}`);
  }
  return results;
}

export function badRequest(message: string): StoreError {
  return new StoreError(StoreErrorCode.BAD_REQUEST, message);
}
