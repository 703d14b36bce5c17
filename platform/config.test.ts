import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('gives a working development configuration from an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ MQTT_PORT: 1883, MQTT_WS_PORT: 9001, HTTP_PORT: 8080, DATA_DIR: 'data', SIM: true, SERVICES: ['broker', 'ingest', 'rules', 'api'] });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every bad key with its value and the problem', () => {
    const run = () => loadConfig({ HTTP_PORT: 'eighty', SIM: 'maybe', SERVICES: 'broker,teapot' });
    expect(run).toThrow(ConfigError);
    const message = (() => { try { run(); } catch (e) { return (e as Error).message; } return ''; })();
    expect(message).toMatch(/HTTP_PORT="eighty"/);
    expect(message).toMatch(/SIM="maybe"/);
    expect(message).toMatch(/SERVICES/);
  });

  it('refuses production without service secrets and an admin token', () => {
    expect(() => loadConfig({ HUEWATCH_ENV: 'production' })).toThrow(/SVC_INGEST_SECRET: required when HUEWATCH_ENV=production/);
  });
});
