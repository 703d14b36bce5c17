import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const SETTINGS = require.resolve('./settings.cjs');

/** flows/settings.cjs as the Node-RED container loads it, with this environment. */
function load(env: Record<string, string | undefined>): Record<string, any> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  try {
    delete require.cache[SETTINGS];
    return require(SETTINGS) as Record<string, any>;
  } finally {
    process.env = saved;
  }
}

afterEach(() => {
  delete require.cache[SETTINGS];
});

describe('the Node-RED container settings', () => {
  it('runs the mounted flows with a file context store, and no editor without a login', () => {
    const s = load({ FLOWS: 'huewatch-flows/flows.json', NODERED_ADMIN_PASSWORD_HASH: undefined });
    expect(s.flowFile).toBe('huewatch-flows/flows.json');
    expect(s.credentialSecret).toBe(false);
    expect(s.contextStorage.file).toEqual({ module: 'localfilesystem' });
    expect(s.httpAdminRoot).toBe(false);
    expect(s.adminAuth).toBeUndefined();
  });

  it('opens the editor only behind the configured login', () => {
    const hash = '$2b$08$wuAqPiKJlVN27eF5qJp.RuQYuy6ZYONW7a/UWYxDTtwKFCdB8F19y';
    const s = load({ NODERED_ADMIN_USER: 'ioc', NODERED_ADMIN_PASSWORD_HASH: hash });
    expect(s.httpAdminRoot).toBe('/');
    expect(s.adminAuth).toEqual({ type: 'credentials', users: [{ username: 'ioc', password: hash, permissions: '*' }] });
  });
});
