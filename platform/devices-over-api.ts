import { z } from 'zod';
import { ErrorCode } from '../contract/errors.ts';
import { DeviceError, parseDeviceTarget, type DeviceAdmin, type DeviceView } from '../lib/devices.ts';

/**
 * The device registry of a running platform, through its HTTP API with the admin token
 * (api/routes/devices.ts): what `huewatch device …` uses while the platform holds the state
 * database, or where the state database is another process's. A refusal is thrown as the
 * DeviceError the registry itself would throw, with the API's code and message.
 */
const refusal = z.object({ code: z.string(), message: z.string() });
const shown = z.object({ deviceId: z.string(), station: z.string(), createdAt: z.string(), disabled: z.boolean() });
const issued = z.object({ secret: z.string(), rotated: z.boolean().optional() });

export function deviceAdminOverApi(apiUrl: string, token: string): DeviceAdmin {
  const base = apiUrl.replace(/\/+$/, '');
  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/devices${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      throw new DeviceError(ErrorCode.INTERNAL, `cannot reach the platform's API at ${base} (${e.cause?.code ?? e.message})`);
    }
    if (res.status === 204) return undefined;
    const answer = (await res.json().catch(() => undefined)) as unknown;
    if (res.ok) return answer;
    const r = refusal.safeParse(answer);
    throw new DeviceError((r.success ? r.data.code : ErrorCode.INTERNAL) as ErrorCode, `the API at ${base} answered ${res.status}${r.success ? `: ${r.data.message}` : ''}`);
  }
  const view = (d: z.output<typeof shown>): DeviceView => ({ ...d, createdAt: Date.parse(d.createdAt) });
  const path = (id: string) => `/${encodeURIComponent(id)}`;
  return {
    async register(deviceId, target, _user, opts = {}) {
      // the API takes the target as the field that names it (api/routes/devices.ts)
      const t = parseDeviceTarget(target);
      const what = t.kind === 'ais-receiver' ? { receiver: true } : t.kind === 'app' ? { app: true } : t.kind === 'vessel' ? { vessel: t.vessel } : { station: t.station };
      const r = issued.parse(await call('POST', '', { deviceId, ...what, ...(opts.rotate ? { rotate: true } : {}) }));
      return { secret: r.secret, rotated: r.rotated === true };
    },
    async rotate(deviceId) {
      return { secret: issued.parse(await call('POST', `${path(deviceId)}/rotate`)).secret };
    },
    async disable(deviceId) {
      return view(shown.parse(await call('POST', `${path(deviceId)}/disable`)));
    },
    async remove(deviceId) {
      await call('DELETE', path(deviceId));
    },
    async list() {
      return z.object({ devices: z.array(shown) }).parse(await call('GET', '')).devices.map(view);
    },
  };
}
