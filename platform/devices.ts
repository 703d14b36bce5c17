import { ErrorCode } from '../contract/errors.ts';
import { hashSecret, newSecret } from '../broker/secrets.ts';
import type { StateStore } from '../store/types.ts';
import type { Station } from './stations.ts';

export class DeviceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Registers a device for a station and returns its new secret. Only the scrypt hash is stored,
 * so the secret is shown this once (technicians copy it into the device). Registering an existing
 * id issues a new secret: the old one stops working at the device's next connect.
 */
export async function registerDevice(
  state: StateStore,
  stations: readonly Station[],
  deviceId: string,
  stationId: string,
  now: number = Date.now(),
): Promise<{ secret: string }> {
  if (!stations.some((s) => s.id === stationId)) {
    throw new DeviceError(ErrorCode.BAD_REQUEST, `station: no station "${stationId}" (known: ${stations.map((s) => s.id).join(', ')})`);
  }
  const secret = newSecret();
  await state.putDevice({ deviceId, station: stationId, secretHash: await hashSecret(secret), createdAt: now, disabled: false });
  return { secret };
}
