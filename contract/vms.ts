import { z } from 'zod';
import { ErrorCode } from './errors.ts';
import { timestamp } from './telemetry.ts';

/**
 * VMS payload on `huewatch/v1/vms/{vesselId}` (DESIGN.md "Wire contract"): one position report
 * of a vessel monitoring system tracker, `{"ts":…, "lat":…, "lon":…, "sog":knots, "cog":deg}`.
 * Trackers report every 2 h or more often (Decree 26/2019/NĐ-CP; vn-standards.json).
 */
export const vmsPayload = z.strictObject({
  ts: timestamp,
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  /** knots; the AIS ceiling of 102.2 kn is far above any fishing vessel */
  sog: z.number().min(0).max(102.2),
  /** degrees true, [0, 360) */
  cog: z.number().min(0).lt(360),
});
export type VmsPayload = z.input<typeof vmsPayload>;
export type VmsReport = z.output<typeof vmsPayload>;

export type VmsDecodeResult = { ok: true; report: VmsReport } | { ok: false; code: ErrorCode; problem: string };

export function decodeVms(payload: Uint8Array | string): VmsDecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch (err) {
    return { ok: false, code: ErrorCode.PAYLOAD_JSON, problem: (err as Error).message };
  }
  const r = vmsPayload.safeParse(json);
  if (r.success) return { ok: true, report: r.data };
  const issue = r.error.issues[0];
  return { ok: false, code: ErrorCode.PAYLOAD_INVALID, problem: `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}` };
}
