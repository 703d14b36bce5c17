import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import type { AlertEvent } from '../contract/alert.ts';
import { ErrorCode } from '../contract/errors.ts';
import { ID_PATTERN } from '../contract/topics.ts';
import { hazard, hazardOf } from '../contract/hazard.ts';
import type { StateStore } from './types.ts';

/**
 * Named accounts of people (DESIGN.md "Who may do what"): admin, operator or viewer, each with a
 * password for the console and bearer tokens for scripts, and the preferences that say which
 * alerts reach the person by which channel. Kept as JSON documents of the state store (namespaces
 * below), so both the embedded database and a state store reached over RPC hold them unchanged.
 *
 * - Passwords: scrypt (RFC 7914), N = 2^15, r = 8, p = 1, 16-byte random salt, 32-byte key, run on
 *   libuv's thread pool (async): 32 MiB per guess (0.8–1 s per hash measured on the shared 2-core
 *   CI machine under load; not a benchmark). Stored as
 *   `scrypt$15$8$1$<salt b64url>$<key b64url>`, so the parameters can be raised later and old
 *   hashes still verify.
 * - Tokens and session ids: 32 random bytes; only their sha256 is stored (a token is shown once).
 */

export const ACCOUNTS_NAMESPACE = 'accounts';
export const ACCOUNT_TOKENS_NAMESPACE = 'account-tokens';
export const SESSIONS_NAMESPACE = 'sessions';

export const ACCOUNT_ROLES = ['viewer', 'operator', 'admin'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

/** what an alert is about: the residents' table (contract/hazard.ts), so page, API and delivery agree */
export const HAZARDS = hazard.options;
export const CHANNELS = ['console', 'webpush', 'email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/** names of the role tokens' principals (and of services): an account may not take them */
const RESERVED_NAMES = new Set(['admin', 'operator', 'viewer', 'service', 'simulator', 'system', 'rules', 'anonymous']);
export const accountName = z.string().regex(/^[a-z][a-z0-9._-]{1,31}$/, 'an account name is 2–32 characters: a–z first, then a–z, 0–9, ".", "_" or "-"')
  .refine((n) => !RESERVED_NAMES.has(n), { message: 'this name is reserved for a role token or a service' });
export const password = z.string().min(10, 'a password has at least 10 characters').max(256, 'a password has at most 256 characters');

const channelPreference = z.object({
  enabled: z.boolean(),
  /** empty: every hazard */
  hazards: z.array(hazard).max(HAZARDS.length).default([]),
  /** area codes (contract/topics.ts ID_PATTERN); empty: every area */
  areas: z.array(z.string().regex(ID_PATTERN)).max(200).default([]),
});
export type ChannelPreference = z.infer<typeof channelPreference>;

export const preferencesSchema = z.object({
  channels: z.object({ console: channelPreference, webpush: channelPreference, email: channelPreference, sms: channelPreference }),
  /** where the Node-RED flow sends e-mail and SMS for this person */
  email: z.email().max(254).optional(),
  phone: z.string().regex(/^\+?[0-9]{8,15}$/, 'a phone number is 8–15 digits, optionally after +').optional(),
});
export type Preferences = z.infer<typeof preferencesSchema>;

/** A new account sees every alert on the console and is reached nowhere else until it says so. */
export const DEFAULT_PREFERENCES: Preferences = {
  channels: {
    console: { enabled: true, hazards: [], areas: [] },
    webpush: { enabled: false, hazards: [], areas: [] },
    email: { enabled: false, hazards: [], areas: [] },
    sms: { enabled: false, hazards: [], areas: [] },
  },
};

export interface AccountRecord {
  id: string;
  name: string;
  displayName: string;
  role: AccountRole;
  disabled: boolean;
  createdAt: string;
  passwordHash?: string;
  /** sha256 hex of each bearer token, with when it was issued */
  tokens: Array<{ id: string; sha256: string; createdAt: string }>;
  preferences: Preferences;
}

/** An account as shown (API, CLI): never a hash. */
export interface AccountView {
  id: string;
  name: string;
  displayName: string;
  role: AccountRole;
  disabled: boolean;
  createdAt: string;
  hasPassword: boolean;
  tokens: number;
}

export interface SessionRecord {
  account: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export class AccountError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** zod's first problem as an AccountError naming the field (the API answers it as 400) */
function check<S extends z.ZodType>(schema: S, value: unknown, field: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = [field, ...(issue?.path ?? [])].filter((x) => x !== '').join('.');
  throw new AccountError(ErrorCode.BAD_REQUEST, `${path}: ${issue?.message ?? 'invalid'}`);
}

export const SCRYPT_PARAMS = { logN: 15, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;

function scryptAsync(pw: string, salt: Buffer, keyLen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((done, fail) => scrypt(pw.normalize('NFC'), salt, keyLen, o, (err, key) => (err ? fail(err) : done(key))));
}
const scryptOptions = (logN: number, r: number, p: number): ScryptOptions => ({ N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r + 1024 * 1024 });

export async function hashPassword(pw: string): Promise<string> {
  const { logN, r, p, keyLen, saltLen } = SCRYPT_PARAMS;
  const salt = randomBytes(saltLen);
  const key = await scryptAsync(pw, salt, keyLen, scryptOptions(logN, r, p));
  return `scrypt$${logN}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const [alg, logN, r, p, salt, key] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !key) return false;
  const want = Buffer.from(key, 'base64url');
  const got = await scryptAsync(pw, Buffer.from(salt, 'base64url'), want.length, scryptOptions(Number(logN), Number(r), Number(p)));
  return timingSafeEqual(got, want);
}

/** A hash to verify against when the account does not exist: the answer takes as long either way. */
let decoyHash: Promise<string> | undefined;

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');
const newSecret = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

/** Does this person want this alert by this channel? */
export function wants(prefs: Preferences, channel: Channel, a: Pick<AlertEvent, 'event' | 'category' | 'area'>): boolean {
  const c = prefs.channels[channel];
  if (!c.enabled) return false;
  if (c.hazards.length > 0 && !c.hazards.includes(hazardOf(a))) return false;
  return c.areas.length === 0 || c.areas.some((code) => a.area.codes.includes(code));
}

export const viewOf = (a: AccountRecord): AccountView => ({
  id: a.id, name: a.name, displayName: a.displayName, role: a.role, disabled: a.disabled, createdAt: a.createdAt, hasPassword: a.passwordHash !== undefined, tokens: a.tokens.length,
});

export type AccountState = Pick<StateStore, 'getJson' | 'putJson' | 'deleteJson' | 'listJson' | 'writeJsonBatch'>;

export interface AccountsOptions {
  state: AccountState;
  clock?: { now(): number };
  /** how long a console session lasts from login (ms) */
  sessionTtlMs?: number;
  /** told of every change (who, what) for the audit trail */
  audit?: (action: string, account: string, by: string, extra?: Record<string, unknown>) => Promise<void>;
}

export const DEFAULT_SESSION_TTL_MS = 12 * 3600_000;

export function createAccounts(o: AccountsOptions) {
  const clock = o.clock ?? Date;
  const ttl = o.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const audit = o.audit ?? (async () => {});
  const get = (name: string) => o.state.getJson<AccountRecord>(ACCOUNTS_NAMESPACE, name);
  const iso = () => new Date(clock.now()).toISOString();

  async function must(name: string): Promise<AccountRecord> {
    const a = await get(name);
    if (!a) throw new AccountError(ErrorCode.NOT_FOUND, `no account "${name}"`);
    return a;
  }

  async function endSessions(name: string): Promise<void> {
    const mine = (await o.state.listJson<SessionRecord>(SESSIONS_NAMESPACE)).filter((s) => s.value.account === name || s.value.expiresAt <= clock.now());
    if (mine.length > 0) await o.state.writeJsonBatch(SESSIONS_NAMESPACE, mine.map((s) => ({ key: s.key })));
  }

  async function issueToken(a: AccountRecord): Promise<string> {
    const token = newSecret('hwu_');
    const sha = sha256Hex(token);
    a.tokens.push({ id: randomUUID(), sha256: sha, createdAt: iso() });
    await o.state.putJson(ACCOUNT_TOKENS_NAMESPACE, sha, { account: a.name });
    await o.state.putJson(ACCOUNTS_NAMESPACE, a.name, a);
    return token;
  }

  return {
    /** the audit trail of the accounts' owner (sign-ins, refusals) */
    record: audit,
    /** Creates an account with a password and one bearer token (returned: shown once). */
    async add(input: { name: string; displayName?: string; role: AccountRole; password: string }, by: string): Promise<{ account: AccountView; token: string }> {
      const name = check(accountName, input.name, 'name');
      check(password, input.password, 'password');
      check(z.enum(ACCOUNT_ROLES), input.role, 'role');
      if (await get(name)) throw new AccountError(ErrorCode.CONFLICT, `an account "${name}" exists already`);
      const a: AccountRecord = {
        id: randomUUID(), name, displayName: input.displayName?.trim() || name, role: input.role, disabled: false, createdAt: iso(),
        passwordHash: await hashPassword(input.password), tokens: [], preferences: DEFAULT_PREFERENCES,
      };
      const token = await issueToken(a);
      await audit('account.add', name, by, { role: a.role });
      return { account: viewOf(a), token };
    },
    async list(): Promise<AccountView[]> {
      return (await o.state.listJson<AccountRecord>(ACCOUNTS_NAMESPACE)).map((e) => viewOf(e.value)).sort((x, y) => x.name.localeCompare(y.name));
    },
    async get(name: string): Promise<AccountRecord | undefined> {
      return get(name);
    },
    /** Refuses the account's password, tokens and sessions from now on; its sessions end. */
    async disable(name: string, by: string): Promise<AccountView> {
      const a = await must(name);
      a.disabled = true;
      await o.state.putJson(ACCOUNTS_NAMESPACE, name, a);
      await endSessions(name);
      await audit('account.disable', name, by);
      return viewOf(a);
    },
    async enable(name: string, by: string): Promise<AccountView> {
      const a = await must(name);
      a.disabled = false;
      await o.state.putJson(ACCOUNTS_NAMESPACE, name, a);
      await audit('account.enable', name, by);
      return viewOf(a);
    },
    /** A new password; the account's console sessions end. */
    async setPassword(name: string, pw: string, by: string): Promise<void> {
      check(password, pw, 'password');
      const a = await must(name);
      a.passwordHash = await hashPassword(pw);
      await o.state.putJson(ACCOUNTS_NAMESPACE, name, a);
      await endSessions(name);
      await audit('account.password', name, by);
    },
    /** Another bearer token for scripts (returned: shown once); `revokeOthers` refuses the earlier ones. */
    async newToken(name: string, by: string, opts: { revokeOthers?: boolean } = {}): Promise<string> {
      const a = await must(name);
      if (opts.revokeOthers) {
        await o.state.writeJsonBatch(ACCOUNT_TOKENS_NAMESPACE, a.tokens.map((t) => ({ key: t.sha256 })));
        a.tokens = [];
      }
      const token = await issueToken(a);
      await audit('account.token', name, by, { revokedOthers: opts.revokeOthers === true });
      return token;
    },
    /** The enabled account holding this bearer token. */
    async byToken(token: string): Promise<AccountRecord | undefined> {
      const ref = await o.state.getJson<{ account: string }>(ACCOUNT_TOKENS_NAMESPACE, sha256Hex(token));
      const a = ref ? await get(ref.account) : undefined;
      return a && !a.disabled && a.tokens.some((t) => t.sha256 === sha256Hex(token)) ? a : undefined;
    },
    /** The enabled account if the password is its own (as slow when the account does not exist). */
    async verify(name: string, pw: string): Promise<AccountRecord | undefined> {
      const a = accountName.safeParse(name).success ? await get(name) : undefined;
      if (!a?.passwordHash) {
        await verifyPassword(pw, await (decoyHash ??= hashPassword(randomUUID())));
        return undefined;
      }
      return (await verifyPassword(pw, a.passwordHash)) && !a.disabled ? a : undefined;
    },
    /** A console session for the account: the cookie's id and its CSRF token (both shown once). */
    async openSession(name: string): Promise<{ id: string; session: SessionRecord }> {
      const id = newSecret('');
      const now = clock.now();
      const session: SessionRecord = { account: name, csrf: newSecret(''), createdAt: now, expiresAt: now + ttl };
      // expired sessions of anyone are dropped here, so the namespace does not grow without bound
      const expired = (await o.state.listJson<SessionRecord>(SESSIONS_NAMESPACE)).filter((s) => s.value.expiresAt <= now);
      await o.state.writeJsonBatch(SESSIONS_NAMESPACE, [...expired.map((s) => ({ key: s.key })), { key: sha256Hex(id), value: session }]);
      return { id, session };
    },
    /** The live session of this cookie id and its enabled account. */
    async session(id: string): Promise<{ session: SessionRecord; account: AccountRecord } | undefined> {
      const key = sha256Hex(id);
      const session = await o.state.getJson<SessionRecord>(SESSIONS_NAMESPACE, key);
      if (!session) return undefined;
      if (session.expiresAt <= clock.now()) {
        await o.state.deleteJson(SESSIONS_NAMESPACE, key);
        return undefined;
      }
      const account = await get(session.account);
      return account && !account.disabled ? { session, account } : undefined;
    },
    async closeSession(id: string): Promise<void> {
      await o.state.deleteJson(SESSIONS_NAMESPACE, sha256Hex(id));
    },
    async preferences(name: string): Promise<Preferences> {
      return (await must(name)).preferences;
    },
    async setPreferences(name: string, prefs: Preferences, by: string): Promise<Preferences> {
      const a = await must(name);
      a.preferences = check(preferencesSchema, prefs, '');
      await o.state.putJson(ACCOUNTS_NAMESPACE, name, a);
      await audit('account.preferences', name, by);
      return a.preferences;
    },
    /** The enabled accounts (operators and admins) that want this alert by this channel. */
    async recipients(channel: Channel, a: AlertEvent): Promise<AccountRecord[]> {
      return (await o.state.listJson<AccountRecord>(ACCOUNTS_NAMESPACE)).map((e) => e.value)
        .filter((acc) => !acc.disabled && acc.role !== 'viewer' && wants(acc.preferences, channel, a));
    },
  };
}
export type Accounts = ReturnType<typeof createAccounts>;
