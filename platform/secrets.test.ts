import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.ts';
import { loadConfig } from './config.ts';
import { loadOrCreateSecrets, saveSecrets } from './secrets.ts';

const strong = () => randomBytes(32).toString('base64url');
const KEYS = ['SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_NODERED_SECRET', 'ADMIN_TOKEN', 'SVC_TOKEN', 'OPERATOR_TOKEN', 'VIEWER_TOKEN', 'NODERED_API_TOKEN'] as const;
const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');

describe('secrets.json', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => dir?.cleanup());

  it('in production holds no secret in clear, only fingerprints, though the platform has them all', async () => {
    dir = await tempDir();
    const env = Object.fromEntries(KEYS.map((k) => [k, strong()]));
    const config = loadConfig({ HUEWATCH_ENV: 'production', SERVICES: 'broker', STATE_URL: 'http://rules:8081', ...env });
    const secrets = await loadOrCreateSecrets(dir.dir, config);
    expect(secrets.adminToken).toBe(env.ADMIN_TOKEN);
    expect(secrets.services.ingest).toBe(env.SVC_INGEST_SECRET);
    secrets.simDevices['sim-x'] = 'kept';
    await saveSecrets(dir.dir, secrets); // as the simulator saves it later
    const text = await readFile(join(dir.dir, 'secrets.json'), 'utf8');
    for (const k of KEYS) expect(text, k).not.toContain(env[k]);
    const file = JSON.parse(text);
    expect(file).toMatchObject({ adminToken: sha(env.ADMIN_TOKEN!), serviceToken: sha(env.SVC_TOKEN!), operatorToken: sha(env.OPERATOR_TOKEN!), noderedToken: sha(env.NODERED_API_TOKEN!), services: { ingest: sha(env.SVC_INGEST_SECRET!) }, simDevices: { 'sim-x': 'kept' } });
    // a fingerprint is never taken for a secret: development on the same folder generates its own
    const dev = await loadOrCreateSecrets(dir.dir, loadConfig({}));
    expect(dev.adminToken).not.toMatch(/^sha256:/);
    expect(dev.services.rules).not.toMatch(/^sha256:/);
  });

  it('in development keeps the generated tokens in clear: it is where a developer finds them', async () => {
    dir = await tempDir();
    const secrets = await loadOrCreateSecrets(dir.dir, loadConfig({}));
    const file = JSON.parse(await readFile(join(dir.dir, 'secrets.json'), 'utf8'));
    expect(file.operatorToken).toBe(secrets.operatorToken);
    expect((await loadOrCreateSecrets(dir.dir, loadConfig({}))).operatorToken).toBe(secrets.operatorToken);
  });
});
