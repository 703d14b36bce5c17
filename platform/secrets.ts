import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from './config.ts';

/**
 * Credentials the platform needs to talk to itself: the MQTT service accounts, the admin bearer
 * token, the services' HTTP bearer token (device directory, platform/device-directory.ts), the operator
 * and viewer tokens, and the secrets of simulated devices. From the environment when given (always in
 * production: config.ts refuses to start otherwise); in development generated once and kept in
 * `DATA_DIR/secrets.json` (mode 0600), so a restart keeps working devices and tokens.
 */
const secretsFile = z.object({
  services: z.object({ ingest: z.string(), rules: z.string(), api: z.string(), nodered: z.string() }),
  adminToken: z.string(),
  /** HTTP bearer token of our own services (device directory); absent in files written before it existed */
  serviceToken: z.string().optional(),
  /** bearer tokens of the operator and viewer roles; absent in files written before they existed */
  operatorToken: z.string().optional(),
  viewerToken: z.string().optional(),
  /** bearer token of the Node-RED flows: the recipients of an alert only; absent in files written before it existed */
  noderedToken: z.string().optional(),
  simDevices: z.record(z.string(), z.string()).default({}),
  /** the registry's hash of each simulated device's secret when the simulator last ran it: unchanged means still its own, without a scrypt per device at start */
  simDeviceHashes: z.record(z.string(), z.string()).default({}),
});
export type PlatformSecrets = z.infer<typeof secretsFile> & { serviceToken: string; operatorToken: string; viewerToken: string; noderedToken: string };

const generate = () => randomBytes(24).toString('base64url');

/**
 * In production every secret comes from the environment (config.ts), and secrets.json never
 * holds one in clear: it keeps `sha256:<hex>` of each instead, which tells an operator which
 * secret a process started with and is worth nothing to a reader of the file. What the platform
 * verifies, it verifies from hashes made in memory at start (scrypt for the MQTT service
 * accounts, broker/secrets.ts; SHA-256 for the HTTP tokens, api/auth.ts). What must stay plain in
 * memory is what a process presents as a client: its MQTT service secret (svc-ingest, …) and
 * SVC_TOKEN (device lookups, the rules RPC); the admin token is presented by `huewatch device`
 * and `huewatch sim`, which in production take ADMIN_TOKEN from the environment. In development
 * the generated secrets stay in the file in clear: it is how a developer finds the tokens.
 */
const HASHED = 'sha256:';
const fingerprint = (secret: string) => HASHED + createHash('sha256').update(secret).digest('hex');
/** a kept value that is a fingerprint is no secret: generate (development) or take the environment's */
const plain = (v: string | undefined) => (v === undefined || v.startsWith(HASHED) ? undefined : v);
/** the secrets whose file copy is a fingerprint (production) */
const fingerprinted = new WeakSet<PlatformSecrets>();

export async function loadOrCreateSecrets(dataDir: string, config: Config): Promise<PlatformSecrets> {
  const file = join(dataDir, 'secrets.json');
  let kept: z.infer<typeof secretsFile> | undefined;
  try {
    kept = secretsFile.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file}: ${(err as Error).message}`);
  }
  const secrets: PlatformSecrets = {
    services: {
      ingest: config.SVC_INGEST_SECRET ?? plain(kept?.services.ingest) ?? generate(),
      rules: config.SVC_RULES_SECRET ?? plain(kept?.services.rules) ?? generate(),
      api: config.SVC_API_SECRET ?? plain(kept?.services.api) ?? generate(),
      nodered: config.SVC_NODERED_SECRET ?? plain(kept?.services.nodered) ?? generate(),
    },
    adminToken: config.ADMIN_TOKEN ?? plain(kept?.adminToken) ?? generate(),
    serviceToken: config.SVC_TOKEN ?? plain(kept?.serviceToken) ?? generate(),
    operatorToken: config.OPERATOR_TOKEN ?? plain(kept?.operatorToken) ?? generate(),
    viewerToken: config.VIEWER_TOKEN ?? plain(kept?.viewerToken) ?? generate(),
    noderedToken: config.NODERED_API_TOKEN ?? plain(kept?.noderedToken) ?? generate(),
    simDevices: kept?.simDevices ?? {},
    simDeviceHashes: kept?.simDeviceHashes ?? {},
  };
  if (config.HUEWATCH_ENV === 'production') fingerprinted.add(secrets);
  await saveSecrets(dataDir, secrets);
  return secrets;
}

export async function saveSecrets(dataDir: string, secrets: PlatformSecrets): Promise<void> {
  const file = join(dataDir, 'secrets.json');
  const f = fingerprinted.has(secrets) ? fingerprint : (v: string) => v;
  const stored = {
    ...secrets,
    services: Object.fromEntries(Object.entries(secrets.services).map(([k, v]) => [k, f(v)])),
    adminToken: f(secrets.adminToken),
    serviceToken: f(secrets.serviceToken),
    operatorToken: f(secrets.operatorToken),
    viewerToken: f(secrets.viewerToken),
    noderedToken: f(secrets.noderedToken),
  };
  await writeFile(file + '.tmp', JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
  await rename(file + '.tmp', file);
}
