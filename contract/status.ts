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

const isoTime = z.iso.datetime({ offset: true });
/**
 * What the platform knows of one device's connection (GET /api/v1/devices/status; kept in the
 * state store so a restart keeps the time of the last change). `online` is null for a registered
 * device that never reported a status. Times are the platform's receive times: a device's own
 * clock may never have been set.
 */
export const deviceStatus = z.object({
  deviceId: z.string(),
  online: z.boolean().nullable(),
  /** when `online` last changed */
  changedAt: isoTime.nullable(),
  /** the last status message of any kind */
  seenAt: isoTime.nullable(),
  /** firmware and battery as the device last reported them */
  fw: z.string().optional(),
  battery_v: z.number().optional(),
});
export type DeviceStatus = z.infer<typeof deviceStatus>;
