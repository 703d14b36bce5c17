import type { Logger } from 'pino';
import { z } from 'zod';
import { ErrorCode } from '../contract/errors.ts';
import type { DeviceRecord, StateStore } from '../store/types.ts';

/** What `GET /api/v1/devices/:id` answers a service token (api/routes/devices.ts, and the rules process's ops listener: rules-rpc.ts). */
export const directoryEntry = z.object({
  deviceId: z.string(),
  station: z.string(),
  secretHash: z.string(),
  createdAt: z.number().int(),
  disabled: z.boolean(),
});

export interface DeviceDirectoryOptions {
  /** base URL that serves the device lookup (config STATE_URL): the rules process, which owns the state database, or an API */
  url: string;
  /** the services' HTTP bearer token (secrets.serviceToken) */
  token: string;
  log: Logger;
  /** a known device is asked again after this; devices change rarely (re-registration, disabling) */
  ttlMs?: number;
  /** an unknown device is asked again after this, so a device registered a moment ago gets in soon */
  missTtlMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** Entries kept at most; past it the cache starts over (a province has hundreds of devices). */
const MAX_ENTRIES = 50_000;

/**
 * The device registry for a process that does not own the state database (DuckDB allows one
 * process per file): a separate ingest or broker asks STATE_URL. Cached, with concurrent
 * lookups of one id sharing a request; while STATE_URL cannot be reached a cached entry is served
 * even when expired, and without one the lookup fails (ingest then leaves the message
 * unacknowledged, the broker refuses the connection), never guessing "unknown".
 */
export function createDeviceDirectory(opts: DeviceDirectoryOptions): Pick<StateStore, 'getDevice'> & { forget(id: string): void } {
  const log = opts.log.child({ module: 'device-directory' });
  const now = opts.now ?? Date.now;
  const ttl = opts.ttlMs ?? 30_000;
  const missTtl = opts.missTtlMs ?? 2_000;
  const base = opts.url.replace(/\/+$/, '');
  const cache = new Map<string, { rec: DeviceRecord | undefined; at: number }>();
  const inflight = new Map<string, Promise<DeviceRecord | undefined>>();
  /** bumped by forget(): an answer asked for before a change is not cached after it */
  let epoch = 0;

  async function fetchDevice(id: string): Promise<DeviceRecord | undefined> {
    const res = await fetch(`${base}/api/v1/devices/${encodeURIComponent(id)}`, {
      headers: { authorization: `Bearer ${opts.token}` },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000),
    });
    if (res.status === 404) return undefined;
    if (!res.ok) throw Object.assign(new Error(`device directory: HTTP ${res.status} for ${id}`), { code: ErrorCode.INTERNAL });
    return directoryEntry.parse(await res.json());
  }

  return {
    async getDevice(id: string): Promise<DeviceRecord | undefined> {
      const asked = epoch;
      const hit = cache.get(id);
      if (hit && now() - hit.at < (hit.rec ? ttl : missTtl)) return hit.rec;
      let p = inflight.get(id);
      if (!p) {
        p = fetchDevice(id).finally(() => inflight.delete(id));
        inflight.set(id, p);
      }
      try {
        const rec = await p;
        if (cache.size >= MAX_ENTRIES) cache.clear();
        if (asked === epoch) cache.set(id, { rec, at: now() });
        return rec;
      } catch (err) {
        if (hit) {
          log.warn({ err: String(err), deviceId: id }, 'device directory unreachable: using the cached entry');
          return hit.rec;
        }
        throw err;
      }
    },
    /** The device changed (broker/auth-revocation.ts): ask STATE_URL afresh next time. */
    forget(id: string): void {
      epoch++;
      cache.delete(id);
      inflight.delete(id);
    },
  };
}
