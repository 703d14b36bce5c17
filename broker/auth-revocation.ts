import type { Aedes, Client } from 'aedes';
import { ID_PATTERN, TOPIC_ROOT } from '../contract/topics.ts';

/**
 * How a device change reaches the broker (issue #16): whoever changes the registry (the process
 * that owns the state database, platform/devices.ts) publishes an empty message on
 * `huewatch/v1/devices/{id}/changed` (svc-rules only, broker/acl.ts), over the in-process bus or
 * the wire alike. The broker listens in process (no client may subscribe to it) and revokes: the
 * device's live session is cut, a cached registry entry forgotten, and a login that was checked
 * against the old record while the change happened is refused.
 */
export const deviceChangedTopic = (deviceId: string) => `${TOPIC_ROOT}/devices/${deviceId}/changed`;
const CHANGED = new RegExp(`^${TOPIC_ROOT}/devices/([^/]+)/changed$`);

export interface Revocations {
  /** the device's revocation count: taken before its record is looked up at CONNECT */
  generation(deviceId: string): number;
  /** has the device been revoked since `generation` was taken? */
  revokedSince(deviceId: string, generation: number): boolean;
  /** cuts the device's session now; the next login looks the device up afresh */
  revoke(deviceId: string): void;
}

export interface RevocationOptions {
  aedes: Aedes;
  /** is this client logged in as that device? (principals live in server.ts) */
  isDevice(client: Client, deviceId: string): boolean;
  /** drops a cached registry entry (platform/device-directory.ts), when the registry is remote */
  forget?(deviceId: string): void;
  onRevoke?(deviceId: string, cut: boolean): void;
}

export function createRevocations(opts: RevocationOptions): Revocations & { listen(): Promise<void> } {
  // one counter per device ever revoked in this process: bounded by the registry's changes
  const counts = new Map<string, number>();
  const generation = (id: string) => counts.get(id) ?? 0;

  function revoke(deviceId: string): void {
    counts.set(deviceId, generation(deviceId) + 1);
    opts.forget?.(deviceId);
    // a device's client id is its device id (admission.ts refuses any other)
    // aedes keeps its sessions in `clients` by client id (untyped in aedes.d.ts)
    const client = (opts.aedes as unknown as { clients: Record<string, Client | undefined> }).clients[deviceId];
    const cut = client !== undefined && opts.isDevice(client, deviceId);
    if (cut) client.close();
    opts.onRevoke?.(deviceId, cut);
  }

  return {
    generation,
    revokedSince: (deviceId, g) => generation(deviceId) !== g,
    revoke,
    listen: () =>
      new Promise<void>((resolve) => {
        opts.aedes.subscribe(
          deviceChangedTopic('+'),
          (packet, done) => {
            const id = CHANGED.exec(packet.topic)?.[1];
            if (id && ID_PATTERN.test(id)) revoke(id);
            done();
          },
          resolve,
        );
      }),
  };
}
