import { z } from 'zod';

/** Stable error codes (STYLE.md): tests and clients match on these, never on messages. */
export const ErrorCode = {
  PAYLOAD_JSON: 'HW_ERR_PAYLOAD_JSON',
  PAYLOAD_INVALID: 'HW_ERR_PAYLOAD_INVALID',
  PAYLOAD_TOO_LARGE: 'HW_ERR_PAYLOAD_TOO_LARGE',
  METRIC_UNKNOWN: 'HW_ERR_METRIC_UNKNOWN',
  TS_FUTURE: 'HW_ERR_TS_FUTURE',
  TS_TOO_OLD: 'HW_ERR_TS_TOO_OLD',
  DEVICE_UNKNOWN: 'HW_ERR_DEVICE_UNKNOWN',
  NOT_AUTHORIZED: 'HW_ERR_NOT_AUTHORIZED',
  NOT_FOUND: 'HW_ERR_NOT_FOUND',
  BAD_REQUEST: 'HW_ERR_BAD_REQUEST',
  /** the thing exists already (e.g. a device id): say so explicitly to replace it (`--rotate`) */
  CONFLICT: 'HW_ERR_CONFLICT',
  CONFIG_INVALID: 'HW_ERR_CONFIG_INVALID',
  RULES_INVALID: 'HW_ERR_RULES_INVALID',
  INTERNAL: 'HW_ERR_INTERNAL',
  /** a store's operation queue is full: the caller backs off (ingest spools) */
  STORE_BUSY: 'HW_ERR_STORE_BUSY',
  /** the store was closed; nothing more is accepted */
  STORE_CLOSED: 'HW_ERR_STORE_CLOSED',
  /** the database file was written by a newer schema than this build knows */
  STORE_SCHEMA_NEWER: 'HW_ERR_STORE_SCHEMA_NEWER',
  /** the store could not be reached, timed out or answered 5xx/429 (after retries, for writes) */
  STORE_UNAVAILABLE: 'HW_ERR_STORE_UNAVAILABLE',
  /** the store refused the request (4xx: bad line, field type conflict, unknown database, no auth) */
  STORE_REJECTED: 'HW_ERR_STORE_REJECTED',
  /** the on-disk spool holds its maximum: the reading is refused (not acknowledged), not dropped */
  SPOOL_FULL: 'HW_ERR_SPOOL_FULL',
  /** a device publishes faster than its quota (broker/publish-quota.ts): QoS 0 dropped, QoS 1/2 slowed */
  RATE_LIMITED: 'HW_ERR_RATE_LIMITED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * What a device reads on `huewatch/v1/devices/{id}/errors` (topics.deviceErrors) when the
 * platform drops one of its messages: the stable code, the first problem found, and where.
 */
export const deviceErrorMessage = z.object({
  code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
  problem: z.string(),
  /** the topic of the dropped message */
  topic: z.string(),
  /** when it was dropped, ISO 8601 UTC */
  ts: z.string(),
});
export type DeviceErrorMessage = z.infer<typeof deviceErrorMessage>;

export function deviceErrorPayload(code: ErrorCode, problem: string, topic: string, now: number): string {
  const msg: DeviceErrorMessage = { code, problem, topic, ts: new Date(now).toISOString() };
  return JSON.stringify(msg);
}
