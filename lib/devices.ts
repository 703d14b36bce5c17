import type { ErrorCode } from '../contract/errors.ts';

/** a device registration refused (bad station / vessel target, reserved name); carries the API error code */
export class DeviceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What a device is for, as kept in DeviceRecord.station: a catalogue station id (telemetry), or
 * one of two values that can never be a station id (a station id carries no `:`, and the
 * catalogue is checked for `ais-receiver`):
 * - `vessel:{registration}`: a vessel's VMS tracker; its device id is the registration number,
 *   because it publishes `huewatch/v1/vms/{deviceId}` and the vessel ingest reads the vessel there;
 * - `ais-receiver`: a shore AIS receiver, publishing NMEA lines on `huewatch/v1/ais/{deviceId}`;
 * - `app`: another app (a partner's residents' app backend, a phone app) whose only right is to
 *   send residents' SOS calls on `huewatch/v1/sos/{deviceId}` (api/sos/mqtt.ts).
 * None of these publishes station telemetry: ingest drops theirs (isStationDevice).
 */
export const AIS_RECEIVER = 'ais-receiver';
export const SOS_APP = 'app';
export const VESSEL_PREFIX = 'vessel:';
export const vesselTarget = (registration: string) => `${VESSEL_PREFIX}${registration}`;

export type DeviceTarget = { kind: 'station'; station: string } | { kind: 'vessel'; vessel: string } | { kind: 'ais-receiver' } | { kind: 'app' };

export function parseDeviceTarget(value: string): DeviceTarget {
  if (value === AIS_RECEIVER) return { kind: 'ais-receiver' };
  if (value === SOS_APP) return { kind: 'app' };
  if (value.startsWith(VESSEL_PREFIX)) return { kind: 'vessel', vessel: value.slice(VESSEL_PREFIX.length) };
  return { kind: 'station', station: value };
}

/** May this device's telemetry become station readings? Not for VMS trackers, AIS receivers and apps. */
export function isStationDevice(rec: { station: string }): boolean {
  return parseDeviceTarget(rec.station).kind === 'station';
}

/** A device as the registry shows it to people: everything but the secret's hash. */
export interface DeviceView {
  deviceId: string;
  station: string;
  createdAt: number;
  disabled: boolean;
}

/**
 * Device management as the API, the CLI and the rules process's RPC see it
 * (platform/devices.ts). Every change is audited with `by` (who) and the time, and the broker
 * is told at once: a disabled, removed or rotated device's live session is cut and its old
 * secret refused from then on (broker/auth-revocation.ts).
 */
export interface DeviceAdmin {
  /** Registers a device; an id that exists is refused (HW_ERR_CONFLICT) unless `rotate`, which issues it a new secret. */
  register(deviceId: string, target: string, by: string, opts?: { rotate?: boolean }): Promise<{ secret: string; rotated: boolean }>;
  /** A new secret for an existing device; the old one stops working now. Re-enables a disabled device. */
  rotate(deviceId: string, by: string): Promise<{ secret: string }>;
  disable(deviceId: string, by: string): Promise<DeviceView>;
  remove(deviceId: string, by: string): Promise<void>;
  list(): Promise<DeviceView[]>;
}
