import { ErrorCode } from '../contract/errors.ts';
import { hashSecret, newSecret, verifySecret } from '../broker/secrets.ts';
import type { VesselEntry } from '../ingest/vessels/registry.ts';
import type { Logger } from '../lib/log.ts';
import { AUDIT_NAMESPACE } from '../rules/operator-actions.ts';
import type { DeviceRecord, StateStore } from '../store/types.ts';
import type { Station } from './stations.ts';
import { AIS_RECEIVER, DeviceError, SOS_APP, parseDeviceTarget, type DeviceAdmin, type DeviceView } from '../lib/devices.ts';

/** the vessel register, or a way to load it (only registering a VMS tracker needs it) */
export type VesselLookup = { byId(id: string): VesselEntry | undefined };

export interface DeviceAdminDeps {
  state: Pick<StateStore, 'getDevice' | 'putDevice' | 'deleteDevice' | 'listDevices' | 'putJson'>;
  stations: readonly Station[];
  vessels?: () => VesselLookup;
  /**
   * Told after each change is stored, and awaited: the broker cuts the device's live session and
   * forgets what it cached (platform/start-pipeline.ts publishes the change to it).
   */
  onChange?: (deviceId: string) => Promise<void> | void;
  log?: Logger;
  clock?: { now(): number };
}

/**
 * The device registry's operations (lib/devices.ts DeviceAdmin). Only the scrypt hash of a secret
 * is stored, so a secret is shown once, when issued. Every change is audited as the operator
 * actions are (rules/operator-actions.ts): a log line with `audit: true` and a record in the
 * state store's `audit` namespace (who, what, when), listed by `GET /api/v1/audit`.
 */
export function createDeviceAdmin(d: DeviceAdminDeps): DeviceAdmin {
  const now = () => (d.clock ?? Date).now();

  async function audit(action: string, deviceId: string, user: string, extra: Record<string, unknown> = {}): Promise<void> {
    const at = now();
    d.log?.info({ audit: true, action, deviceId, user, ...extra }, action);
    await d.state.putJson(AUDIT_NAMESPACE, `${String(at).padStart(15, '0')}:${deviceId}:${action}`, { action, deviceId, user, at: new Date(at).toISOString(), ...extra });
  }

  async function existing(deviceId: string): Promise<DeviceRecord> {
    const rec = await d.state.getDevice(deviceId);
    if (!rec) throw new DeviceError(ErrorCode.NOT_FOUND, `no device "${deviceId}"`);
    return rec;
  }

  async function issue(rec: Omit<DeviceRecord, 'secretHash'>): Promise<string> {
    const secret = newSecret();
    await d.state.putDevice({ ...rec, secretHash: await hashSecret(secret) });
    await d.onChange?.(rec.deviceId);
    return secret;
  }

  return {
    async register(deviceId, target, user, opts = {}) {
      checkTarget(d.stations, deviceId, target, d.vessels);
      const before = await d.state.getDevice(deviceId);
      if (before && !opts.rotate) {
        throw new DeviceError(ErrorCode.CONFLICT, `device "${deviceId}" exists (for ${before.station}); rotate its secret to replace it (huewatch device rotate ${deviceId}, or add --rotate)`);
      }
      const secret = await issue({ deviceId, station: target, createdAt: now(), disabled: false });
      await audit(before ? 'device.rotate' : 'device.register', deviceId, user, { station: target, ...(before && before.station !== target ? { was: before.station } : {}) });
      return { secret, rotated: before !== undefined };
    },
    async rotate(deviceId, user) {
      const rec = await existing(deviceId);
      const secret = await issue({ ...rec, disabled: false });
      await audit('device.rotate', deviceId, user, { station: rec.station });
      return { secret };
    },
    async disable(deviceId, user) {
      const rec = await existing(deviceId);
      await d.state.putDevice({ ...rec, disabled: true });
      await d.onChange?.(deviceId);
      await audit('device.disable', deviceId, user, { station: rec.station });
      return view({ ...rec, disabled: true });
    },
    async remove(deviceId, user) {
      const rec = await existing(deviceId);
      await d.state.deleteDevice(deviceId);
      await d.onChange?.(deviceId);
      await audit('device.remove', deviceId, user, { station: rec.station });
    },
    async list() {
      return (await d.state.listDevices()).map(view);
    },
  };
}

export const view = ({ secretHash: _hidden, ...shown }: DeviceRecord): DeviceView => shown;

/**
 * Is `target` something a device may be for? A station id of the catalogue, `vessel:{registration}`
 * (a VMS tracker: the device id must be that registration, a vessel of the register that carries
 * VMS), `ais-receiver` or `app` (lib/devices.ts).
 */
export function checkTarget(stations: readonly Station[], deviceId: string, target: string, vessels?: () => VesselLookup): void {
  const t = parseDeviceTarget(target);
  if (t.kind === 'station' && !stations.some((s) => s.id === t.station)) {
    throw new DeviceError(ErrorCode.BAD_REQUEST, `station: no station "${t.station}" (known: ${stations.map((s) => s.id).join(', ')})`);
  }
  if (t.kind === 'ais-receiver' && stations.some((s) => s.id === AIS_RECEIVER)) {
    throw new DeviceError(ErrorCode.CONFIG_INVALID, `station catalogue: "${AIS_RECEIVER}" is reserved for AIS receivers`);
  }
  if (t.kind === 'app' && stations.some((s) => s.id === SOS_APP)) {
    throw new DeviceError(ErrorCode.CONFIG_INVALID, `station catalogue: "${SOS_APP}" is reserved for apps that send SOS calls`);
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
}

/**
 * The simulator's devices and their secrets (kept in secrets.json): the platform registers a
 * simulated device that is not in the registry, and runs one whose kept secret still opens it.
 * A simulated id that an operator took over (registered again, rotated or disabled: the registry
 * says so) is left alone and skipped, with one log line: the registry wins, and the rest sails.
 */
export async function simDeviceCredentials(
  admin: DeviceAdmin,
  state: Pick<StateStore, 'getDevice'>,
  wanted: ReadonlyArray<{ id: string; target: string }>,
  kept: { secrets: Record<string, string>; hashes: Record<string, string> },
  log: Logger,
): Promise<{ secrets: Record<string, string>; hashes: Record<string, string>; skipped: string[] }> {
  const secrets: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  const skipped: string[] = [];
  for (const w of wanted) {
    const rec = await state.getDevice(w.id);
    const secret = kept.secrets[w.id];
    if (!rec) {
      secrets[w.id] = (await admin.register(w.id, w.target, 'simulator')).secret;
      const issued = await state.getDevice(w.id);
      if (issued) hashes[w.id] = issued.secretHash;
    } else if (secret && !rec.disabled && rec.station === w.target && (rec.secretHash === kept.hashes[w.id] || (await verifySecret(secret, rec.secretHash)))) {
      secrets[w.id] = secret;
      hashes[w.id] = rec.secretHash;
    } else {
      skipped.push(w.id);
    }
  }
  if (skipped.length > 0) {
    log.warn({ skipped }, `simulator: not running ${skipped.join(', ')}: registered, rotated or disabled outside the simulator (the registry holds another secret); "huewatch device remove ID" gives the id back to the simulator`);
  }
  return { secrets, hashes, skipped };
}
