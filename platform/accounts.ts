import { z } from 'zod';
import { ErrorCode } from '../contract/errors.ts';
import type { Logger } from '../lib/log.ts';
import { AUDIT_NAMESPACE } from '../rules/operator-actions.ts';
import { AccountError, type AccountRole, type AccountState, type AccountView, type Accounts } from '../store/accounts.ts';

/**
 * The accounts' audit trail (as device changes: a log line with `audit: true` and a record in
 * the state store's `audit` namespace, listed by GET /api/v1/audit), and what `huewatch user …`
 * does to accounts: on the state database itself while the platform is stopped, else through
 * the running platform's API with the admin token (platform/cli.ts).
 */
export function accountAudit(state: Pick<AccountState, 'putJson'>, log: Logger | undefined, clock: { now(): number } = Date) {
  return async (action: string, account: string, by: string, extra: Record<string, unknown> = {}): Promise<void> => {
    const at = clock.now();
    log?.info({ audit: true, action, account, user: by, ...extra }, action);
    await state.putJson(AUDIT_NAMESPACE, `${String(at).padStart(15, '0')}:${account}:${action}`, { action, account, user: by, at: new Date(at).toISOString(), ...extra });
  };
}

export interface AccountAdmin {
  add(input: { name: string; displayName?: string; role: AccountRole; password: string }): Promise<{ account: AccountView; token: string }>;
  list(): Promise<AccountView[]>;
  disable(name: string): Promise<AccountView>;
  enable(name: string): Promise<AccountView>;
  setPassword(name: string, password: string): Promise<void>;
  newToken(name: string, opts: { revokeOthers?: boolean }): Promise<string>;
}

export function localAccountAdmin(accounts: Accounts, by: string): AccountAdmin {
  return {
    add: (input) => accounts.add(input, by),
    list: () => accounts.list(),
    disable: (name) => accounts.disable(name, by),
    enable: (name) => accounts.enable(name, by),
    setPassword: (name, pw) => accounts.setPassword(name, pw, by),
    newToken: (name, opts) => accounts.newToken(name, by, opts),
  };
}

const view = z.object({ id: z.string(), name: z.string(), displayName: z.string(), role: z.enum(['viewer', 'operator', 'admin']), disabled: z.boolean(), createdAt: z.string(), hasPassword: z.boolean(), tokens: z.number() });
const refusal = z.object({ code: z.string(), message: z.string() });

/** The accounts of a running platform, through its API (api/routes/users.ts); a refusal is the AccountError it would be here. */
export function accountAdminOverApi(apiUrl: string, token: string): AccountAdmin {
  const base = apiUrl.replace(/\/+$/, '');
  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/users${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      throw new AccountError(ErrorCode.INTERNAL, `cannot reach the platform's API at ${base} (${e.cause?.code ?? e.message})`);
    }
    if (res.status === 204) return undefined;
    const answer = (await res.json().catch(() => undefined)) as unknown;
    if (res.ok) return answer;
    const r = refusal.safeParse(answer);
    throw new AccountError((r.success ? r.data.code : ErrorCode.INTERNAL) as ErrorCode, `the API at ${base} answered ${res.status}${r.success ? `: ${r.data.message}` : ''}`);
  }
  const path = (name: string) => `/${encodeURIComponent(name)}`;
  return {
    async add(input) {
      const r = z.object({ user: view, token: z.string() }).parse(await call('POST', '', input));
      return { account: r.user, token: r.token };
    },
    async list() {
      return z.object({ users: z.array(view) }).parse(await call('GET', '')).users;
    },
    async disable(name) {
      return view.parse(await call('POST', `${path(name)}/disable`));
    },
    async enable(name) {
      return view.parse(await call('POST', `${path(name)}/enable`));
    },
    async setPassword(name, password) {
      await call('PUT', `${path(name)}/password`, { password });
    },
    async newToken(name, opts) {
      return z.object({ token: z.string() }).parse(await call('POST', `${path(name)}/tokens`, { revokeOthers: opts.revokeOthers === true })).token;
    },
  };
}
