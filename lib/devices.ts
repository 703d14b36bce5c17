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
 * - `ais-receiver`: a shore AIS receiver, publishing NMEA lines on `huewatch/v1/ais/{deviceId}`.
 * Neither publishes station telemetry: ingest drops theirs (isStationDevice).
 */
export const AIS_RECEIVER = 'ais-receiver';
export const VESSEL_PREFIX = 'vessel:';
export const vesselTarget = (registration: string) => `${VESSEL_PREFIX}${registration}`;

export type DeviceTarget = { kind: 'station'; station: string } | { kind: 'vessel'; vessel: string } | { kind: 'ais-receiver' };

export function parseDeviceTarget(value: string): DeviceTarget {
  if (value === AIS_RECEIVER) return { kind: 'ais-receiver' };
  if (value.startsWith(VESSEL_PREFIX)) return { kind: 'vessel', vessel: value.slice(VESSEL_PREFIX.length) };
  return { kind: 'station', station: value };
}

/** May this device's telemetry become station readings? Not for VMS trackers and AIS receivers. */
export function isStationDevice(rec: { station: string }): boolean {
  return parseDeviceTarget(rec.station).kind === 'station';
}
