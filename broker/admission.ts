import type { PublishPacket } from 'aedes';
import { parseDeviceTarget } from '../lib/devices.ts';
import { ID_PATTERN } from '../contract/topics.ts';
import type { StateStore } from '../store/types.ts';
import type { Principal, ServiceName } from './acl.ts';
import { authorizeIn } from './conformance.ts';
import type { Revocations } from './auth-revocation.ts';
import type { RefusalReason } from './broker-metrics.ts';
import { payloadBytes } from './limits.ts';
import { verifySecret } from './secrets.ts';
import type { LoginGuard } from '../lib/login-guard.ts';
import type { VerifyQueue } from './verify-queue.ts';
import type { VerifiedCache } from './verified-cache.ts';

/** CONNACK return codes, MQTT 3.1.1 table 3.1 */
export const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_CREDENTIALS: 4, NOT_AUTHORIZED: 5 } as const;

type Refusal = { ok: false; reason: RefusalReason; code: number };
/** `generation`: a device's revocation count it was admitted under, checked again once aedes registers the session */
export type Admission = { ok: true; principal: Principal; generation?: number } | Refusal;
const refusal = (reason: RefusalReason, code: number): Refusal => ({ ok: false, reason, code });

/** What a CONNECT carried, kept by preConnect for authenticate (which aedes does not give the will). */
export interface ConnectInfo {
  clientId: string;
  will: PublishPacket | undefined;
  /** the client's network address (the login guard counts failures per address) */
  address?: string | undefined;
}

export interface AdmissionOptions {
  devices: Pick<StateStore, 'getDevice'>;
  services: ReadonlyArray<{ name: ServiceName; secretHash: string }>;
  allowAnonymousResidents: boolean;
  /** the MQTT 3.1.1 conformance profile: a resident's will may also go to the test tree (conformance.ts) */
  conformance?: boolean | undefined;
  maxClients: number;
  maxPayloadBytes: number;
  connectedClients(): number;
  revocations: Pick<Revocations, 'generation' | 'revokedSince'>;
  /** a hash of no secret, so an unknown user costs the same scrypt work (made at start) */
  dummyHash(): string;
  /**
   * Guessing costs the guesser: failures limited per address and username (lib/login-guard.ts),
   * scrypt checks queued fairly per address (verify-queue.ts), a right secret remembered
   * (verified-cache.ts). Absent: every check runs scrypt at once (tests of admission alone).
   */
  login?: { guard: LoginGuard; queue: VerifyQueue; verified: VerifiedCache };
}

/** CONNECT: who the client is (service, device or anonymous resident), or why it is refused. */
export function createAdmission(opts: AdmissionOptions): (info: ConnectInfo | undefined, username: string | undefined, password: Buffer | undefined) => Promise<Admission> {
  const services = new Map(opts.services.map((s) => [s.name as string, s]));
  const login = opts.login;

  /**
   * The secret against a stored hash (or the dummy one: no enumeration by timing), through the
   * login guard: a locked-out address or username is refused before any scrypt, a secret seen
   * right before costs one HMAC (and passes a username lockout: its owner is not locked out by
   * guessers of its name), and scrypt runs in the address's turn.
   */
  async function checkSecret(address: string, username: string, secret: string, hash: string | undefined): Promise<true | Refusal> {
    if (!login) return (await verifySecret(secret, hash ?? opts.dummyHash())) || refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
    const attempt = { address, username };
    const gate = await login.guard.check(attempt);
    if (!gate.allowed && gate.reason === 'address') return refusal('login_locked', CONNACK.NOT_AUTHORIZED);
    if (hash && login.verified.has(hash, secret)) return true;
    if (!gate.allowed) return refusal('login_locked', CONNACK.NOT_AUTHORIZED);
    const right = await login.queue.run(address, () => verifySecret(secret, hash ?? opts.dummyHash()));
    if (right === undefined) return refusal('login_busy', CONNACK.SERVER_UNAVAILABLE);
    if (!right || !hash) {
      await login.guard.failed(attempt);
      return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
    }
    await login.guard.succeeded(attempt);
    login.verified.add(hash, secret);
    return true;
  }

  return async function admit(info, username, password) {
    if (opts.connectedClients() >= opts.maxClients) return refusal('server_full', CONNACK.SERVER_UNAVAILABLE);
    const clientId = info?.clientId ?? '';
    const secret = password?.toString('utf8') ?? '';
    const address = info?.address ?? 'unknown';
    let principal: Principal;
    let generation: number | undefined;
    if (!username) {
      if (!opts.allowAnonymousResidents) return refusal('anonymous_refused', CONNACK.NOT_AUTHORIZED);
      // a resident must not take over a device's or service's session [MQTT-3.1.4-2]
      const taken = clientId.startsWith('svc-') || (ID_PATTERN.test(clientId) && (await opts.devices.getDevice(clientId)));
      if (taken) return refusal('client_id_refused', CONNACK.IDENTIFIER_REJECTED);
      principal = { role: 'resident' };
    } else if (username.startsWith('svc-')) {
      const svc = services.get(username.slice(4));
      const ok = await checkSecret(address, username, secret, svc?.secretHash);
      if (ok !== true) return ok;
      if (!svc) return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
      if (!clientId.startsWith(username)) return refusal('client_id_refused', CONNACK.IDENTIFIER_REJECTED);
      principal = { role: 'service', name: svc.name };
    } else {
      generation = opts.revocations.generation(username);
      const rec = ID_PATTERN.test(username) ? await opts.devices.getDevice(username) : undefined;
      // the same scrypt work whether or not the device exists: no user enumeration by timing
      const ok = await checkSecret(address, username, secret, rec?.secretHash);
      if (ok !== true) return ok;
      if (!rec) return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
      if (rec.disabled) return refusal('device_disabled', CONNACK.NOT_AUTHORIZED);
      if (clientId !== rec.deviceId) return refusal('client_id_refused', CONNACK.IDENTIFIER_REJECTED);
      // changed while its secret was checked: the record read may be the old one
      if (opts.revocations.revokedSince(rec.deviceId, generation)) return refusal('bad_credentials', CONNACK.BAD_CREDENTIALS);
      principal = { role: 'device', deviceId: rec.deviceId, kind: parseDeviceTarget(rec.station).kind };
    }
    // aedes stores the will at CONNECT and checks it only when it fires; refuse a bad one now,
    // so that a device learns at once and never holds a will it may not send
    const will = info?.will;
    if (will) {
      const ok = payloadBytes(will.payload) <= opts.maxPayloadBytes && authorizeIn(opts.conformance === true, principal, 'publish', will.topic, { retain: will.retain });
      if (!ok) return refusal('will_denied', CONNACK.NOT_AUTHORIZED);
    }
    return { ok: true, principal, ...(generation === undefined ? {} : { generation }) };
  };
}

export function connackError(code: number): Error & { returnCode: number } {
  return Object.assign(new Error(`connection refused (${code})`), { returnCode: code });
}
