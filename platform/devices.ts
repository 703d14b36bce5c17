import { ErrorCode } from '../contract/errors.ts';
import { hashSecret, newSecret } from '../broker/secrets.ts';
import type { VesselEntry } from '../ingest/vessels/registry.ts';
import type { StateStore } from '../store/types.ts';
import type { Station } from './stations.ts';
import { AIS_RECEIVER, DeviceError, parseDeviceTarget } from '../lib/devices.ts';

/** the vessel register, or a way to load it (only registering a VMS tracker needs it) */
export type VesselLookup = { byId(id: string): VesselEntry | undefined };

/**
 * Registers a device and returns its new secret. Only the scrypt hash is stored, so the secret
 * is shown this once (technicians copy it into the device). Registering an existing id issues a
 * new secret: the old one stops working at the device's next connect.
 *
 * `target` is a station id of the catalogue, `vessel:{registration}` (a VMS tracker: the device id
 * must be that registration, a vessel of the register that carries VMS) or `ais-receiver`.
 */
export async function registerDevice(
  state: StateStore,
  stations: readonly Station[],
  deviceId: string,
  target: string,
  now: number = Date.now(),
  vessels?: () => VesselLookup,
): Promise<{ secret: string }> {
  const t = parseDeviceTarget(target);
  if (t.kind === 'station' && !stations.some((s) => s.id === t.station)) {
    throw new DeviceError(ErrorCode.BAD_REQUEST, `station: no station "${t.station}" (known: ${stations.map((s) => s.id).join(', ')})`);
  }
  if (t.kind === 'ais-receiver' && stations.some((s) => s.id === AIS_RECEIVER)) {
    throw new DeviceError(ErrorCode.CONFIG_INVALID, `station catalogue: "${AIS_RECEIVER}" is reserved for AIS receivers`);
  }
  if (t.kind === 'vessel') {
    if (t.vessel !== deviceId) {
      throw new DeviceError(ErrorCode.BAD_REQUEST, `vessel: a VMS tracker's device id is its vessel's registration number (publishes on vms/${deviceId}); got device "${deviceId}" for vessel "${t.vessel}"`);
    }
    if (!vessels) throw new DeviceError(ErrorCode.BAD_REQUEST, 'vessel: no vessel register here');
    const v = vessels().byId(t.vessel);
    if (!v) throw new DeviceError(ErrorCode.BAD_REQUEST, `vessel: no vessel "${t.vessel}" in the vessel register`);
    if (!v.vms) throw new DeviceError(ErrorCode.BAD_REQUEST, `vessel: the register says ${t.vessel} carries no VMS tracker (vms: false)`);
  }
  const secret = newSecret();
  await state.putDevice({ deviceId, station: target, secretHash: await hashSecret(secret), createdAt: now, disabled: false });
  return { secret };
}
