import { z } from 'zod';
import { isMetric, METRICS, type MetricName } from './metrics.ts';
import { ErrorCode } from './errors.ts';

/**
 * Telemetry payloads on `huewatch/v1/telemetry/{deviceId}` (DESIGN.md): one reading, an array of
 * readings (a store-and-forward flush), or SenML (RFC 8428) JSON. All three decode to the same
 * normalised `Reading` list.
 */

/**
 * The latest time a reading may carry, epoch ms: 2262-04-11T23:47:16.854Z. InfluxDB keeps times
 * as int64 nanoseconds (up to 9,223,372,036,854,775,806 ns), so this is the last millisecond every
 * store can keep; a `Date` holds up to 8.64e15 ms, so every accepted time also formats
 * (`toISOString` throws a RangeError past that). The earliest is the Unix epoch, 0.
 */
export const MAX_TS_MS = 9_223_372_036_854;
export const MIN_TS_MS = 0;
const TS_RANGE = `must be epoch milliseconds from ${MIN_TS_MS} to ${MAX_TS_MS} (1970-01-01T00:00:00.000Z to 2262-04-11T23:47:16.854Z)`;

/** True when `ms` is a time a reading may carry (an integer within [MIN_TS_MS, MAX_TS_MS]). */
export function isStorableTs(ms: number): boolean {
  return Number.isInteger(ms) && ms >= MIN_TS_MS && ms <= MAX_TS_MS;
}

/** A reading time for a log or problem text; never throws (a time a Date cannot hold is shown as a number). */
export function formatTs(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} (epoch ms, out of range)` : d.toISOString();
}

const epochMs = z.number().int().min(MIN_TS_MS, TS_RANGE).max(MAX_TS_MS, TS_RANGE);

/** Epoch milliseconds or ISO 8601 with an offset; UTC on the wire; within [MIN_TS_MS, MAX_TS_MS]. */
export const timestamp = z.union([
  epochMs,
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)).pipe(epochMs),
]);

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const readingPayload = z.strictObject({
  ts: timestamp.optional(),
  seq: z.number().int().nonnegative().optional(),
  m: z.record(z.string(), finite).refine((m) => Object.keys(m).length > 0, 'needs at least one metric'),
});
export type ReadingPayload = z.input<typeof readingPayload>;

/** Store-and-forward flushes are bounded: a device that buffered more sends several messages. */
export const MAX_READINGS_PER_MESSAGE = 1000;
export const readingArrayPayload = z.array(readingPayload).min(1).max(MAX_READINGS_PER_MESSAGE);

/** RFC 8428 §4: base fields apply to the records after them; `t` and `bt` are seconds. */
export const senmlRecord = z.object({
  bn: z.string().optional(),
  bt: finite.optional(),
  bu: z.string().optional(),
  n: z.string().optional(),
  u: z.string().optional(),
  v: finite.optional(),
  t: finite.optional(),
});
export const senmlPayload = z.array(senmlRecord).min(1).max(MAX_READINGS_PER_MESSAGE);

export interface Reading {
  /** epoch ms, observation time */
  ts: number;
  seq?: number;
  values: Partial<Record<MetricName, number>>;
}

export type DecodeResult =
  | { ok: true; readings: Reading[] }
  | { ok: false; code: ErrorCode; problem: string };

export interface DecodeOptions {
  /** receive time, epoch ms: used when a reading has no `ts`, and to judge future timestamps */
  now: number;
  /** readings further than this in the future are refused (clock skew allowance) */
  maxFutureMs?: number;
  /** readings older than this are refused (store-and-forward allowance) */
  maxAgeMs?: number;
}

export const DEFAULT_MAX_FUTURE_MS = 5 * 60_000;
export const DEFAULT_MAX_AGE_MS = 30 * 24 * 3600_000;

/** RFC 8428 §4.5.3: times below 2^28 s are relative to now. */
const SENML_RELATIVE_LIMIT_S = 2 ** 28;

export function decodeTelemetry(payload: Uint8Array | string, opts: DecodeOptions): DecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch (err) {
    return { ok: false, code: ErrorCode.PAYLOAD_JSON, problem: (err as Error).message };
  }
  let readings: Reading[];
  if (Array.isArray(json) && json.length > 0 && isSenml(json[0])) {
    const parsed = senmlPayload.safeParse(json);
    if (!parsed.success) return invalid(parsed.error);
    const r = fromSenml(parsed.data, opts.now);
    if (!r.ok) return r;
    readings = r.readings;
  } else {
    const parsed = Array.isArray(json) ? readingArrayPayload.safeParse(json) : readingPayload.safeParse(json);
    if (!parsed.success) return invalid(parsed.error);
    const list = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    readings = [];
    for (const p of list) {
      for (const name of Object.keys(p.m)) {
        if (!isMetric(name)) return { ok: false, code: ErrorCode.METRIC_UNKNOWN, problem: `unknown metric "${name}"` };
      }
      readings.push({ ts: p.ts ?? opts.now, ...(p.seq === undefined ? {} : { seq: p.seq }), values: p.m as Reading['values'] });
    }
  }
  const maxFuture = opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const maxAge = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  for (const r of readings) {
    if (r.ts > opts.now + maxFuture) {
      return { ok: false, code: ErrorCode.TS_FUTURE, problem: `ts: ${formatTs(r.ts)} is in the future` };
    }
    if (r.ts < opts.now - maxAge) {
      return { ok: false, code: ErrorCode.TS_TOO_OLD, problem: `ts: ${formatTs(r.ts)} is older than allowed` };
    }
  }
  return { ok: true, readings };
}

function isSenml(first: unknown): boolean {
  return typeof first === 'object' && first !== null && !('m' in first) && ('n' in first || 'bn' in first || 'v' in first);
}

function invalid(error: z.ZodError): DecodeResult {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') + ': ' : '';
  return { ok: false, code: ErrorCode.PAYLOAD_INVALID, problem: where + (issue?.message ?? 'invalid payload') };
}

function fromSenml(records: z.infer<typeof senmlPayload>, now: number): DecodeResult {
  const byTime = new Map<number, Reading>();
  let bt = 0;
  let bu: string | undefined;
  for (const [i, rec] of records.entries()) {
    if (rec.bt !== undefined) bt = rec.bt;
    if (rec.bu !== undefined) bu = rec.bu;
    if (rec.n === undefined || rec.v === undefined) continue; // base-only record
    if (!isMetric(rec.n)) return { ok: false, code: ErrorCode.METRIC_UNKNOWN, problem: `unknown metric "${rec.n}"` };
    const unit = rec.u ?? bu;
    if (unit !== undefined && unit !== METRICS[rec.n].unit) {
      return { ok: false, code: ErrorCode.PAYLOAD_INVALID, problem: `${rec.n}: unit "${unit}" is not "${METRICS[rec.n].unit}"` };
    }
    const tSec = bt + (rec.t ?? 0);
    const ts = Math.round(tSec === 0 ? now : Math.abs(tSec) < SENML_RELATIVE_LIMIT_S ? now + tSec * 1000 : tSec * 1000);
    if (!isStorableTs(ts)) return { ok: false, code: ErrorCode.PAYLOAD_INVALID, problem: `${i}.t: bt + t = ${tSec} s ${TS_RANGE}` };
    let reading = byTime.get(ts);
    if (!reading) byTime.set(ts, (reading = { ts, values: {} }));
    reading.values[rec.n] = rec.v;
  }
  if (byTime.size === 0) return { ok: false, code: ErrorCode.PAYLOAD_INVALID, problem: 'SenML pack has no records with n and v' };
  return { ok: true, readings: [...byTime.values()].sort((a, b) => a.ts - b.ts) };
}
