import { z } from 'zod';
import { timestamp } from './telemetry.ts';

/** `huewatch/v1/status/{deviceId}`, retained; also the device's last will (`online:false`). */
export const statusPayload = z.object({
  online: z.boolean(),
  ts: timestamp.optional(),
  fw: z.string().max(64).optional(),
  battery_v: z.number().optional(),
});
export type StatusPayload = z.input<typeof statusPayload>;
