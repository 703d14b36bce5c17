import { randomBytes } from 'node:crypto';
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
  simDevices: z.record(z.string(), z.string()).default({}),
  /** the registry's hash of each simulated device's secret when the simulator last ran it: unchanged means still its own, without a scrypt per device at start */
  simDeviceHashes: z.record(z.string(), z.string()).default({}),
});
export type PlatformSecrets = z.infer<typeof secretsFile> & { serviceToken: string; operatorToken: string; viewerToken: string };

const generate = () => randomBytes(24).toString('base64url');

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
      ingest: config.SVC_INGEST_SECRET ?? kept?.services.ingest ?? generate(),
      rules: config.SVC_RULES_SECRET ?? kept?.services.rules ?? generate(),
      api: config.SVC_API_SECRET ?? kept?.services.api ?? generate(),
      nodered: config.SVC_NODERED_SECRET ?? kept?.services.nodered ?? generate(),
    },
    adminToken: config.ADMIN_TOKEN ?? kept?.adminToken ?? generate(),
    serviceToken: config.SVC_TOKEN ?? kept?.serviceToken ?? generate(),
    operatorToken: config.OPERATOR_TOKEN ?? kept?.operatorToken ?? generate(),
    viewerToken: config.VIEWER_TOKEN ?? kept?.viewerToken ?? generate(),
    simDevices: kept?.simDevices ?? {},
    simDeviceHashes: kept?.simDeviceHashes ?? {},
  };
  await saveSecrets(dataDir, secrets);
  return secrets;
}

export async function saveSecrets(dataDir: string, secrets: PlatformSecrets): Promise<void> {
  const file = join(dataDir, 'secrets.json');
  await writeFile(file + '.tmp', JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  await rename(file + '.tmp', file);
}
