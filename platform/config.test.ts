import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('gives a working development configuration from an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ MQTT_PORT: 1883, MQTT_WS_PORT: 9001, HTTP_PORT: 8080, DATA_DIR: 'data', SIM: true, SERVICES: ['broker', 'ingest', 'rules', 'api'] });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes the per-device quota with its defaults, 0 turning a rate off, and refuses a negative rate or a zero burst by key', () => {
    expect(loadConfig({})).toMatchObject({ DEVICE_MAX_MSGS_PER_S: 20, DEVICE_MSGS_BURST: 1000, DEVICE_MAX_BYTES_PER_S: 2048, DEVICE_BYTES_BURST: 65536 });
    expect(loadConfig({ DEVICE_MAX_MSGS_PER_S: '0', DEVICE_MAX_BYTES_PER_S: '0.5' })).toMatchObject({ DEVICE_MAX_MSGS_PER_S: 0, DEVICE_MAX_BYTES_PER_S: 0.5 });
    const message = (() => { try { loadConfig({ DEVICE_MAX_MSGS_PER_S: '-1', DEVICE_BYTES_BURST: '0' }); } catch (e) { return (e as Error).message; } return ''; })();
    expect(message).toMatch(/DEVICE_MAX_MSGS_PER_S="-1"/);
    expect(message).toMatch(/DEVICE_BYTES_BURST="0"/);
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
    expect(() => loadConfig({ HUEWATCH_ENV: 'production' })).toThrow(/SVC_INGEST_SECRET, .*ADMIN_TOKEN, SVC_TOKEN are unset: required when HUEWATCH_ENV=production/);
  });

  it('refuses weak secrets in production, naming each key and why, never the value', () => {
    const strong = Object.fromEntries(['SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_NODERED_SECRET', 'ADMIN_TOKEN', 'SVC_TOKEN'].map((k) => [k, randomBytes(32).toString('base64url')]));
    const vapid = { VAPID_PUBLIC_KEY: 'p', VAPID_PRIVATE_KEY: 'q', VAPID_SUBJECT: 'mailto:ioc@example.org' };
    const env = { HUEWATCH_ENV: 'production', ...strong, ...vapid, SVC_INGEST_SECRET: 'aaaaaaaaaaaaaaaa', OPERATOR_TOKEN: 'ab'.repeat(20) };
    let problems: readonly string[] = [];
    try {
      loadConfig(env);
    } catch (e) {
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^SVC_INGEST_SECRET: too weak for HUEWATCH_ENV=production: 16 characters, at least 32 needed/),
      expect.stringMatching(/^OPERATOR_TOKEN: too weak for HUEWATCH_ENV=production: only 2 distinct characters/),
    ]);
    expect(problems.join('\n')).not.toContain('abab');
    // development keeps taking the old minimum of 16
    expect(() => loadConfig({ SVC_INGEST_SECRET: 'aaaaaaaaaaaaaaaa' })).not.toThrow();
    expect(() => loadConfig({ ...env, SVC_INGEST_SECRET: strong.ADMIN_TOKEN, OPERATOR_TOKEN: randomBytes(32).toString('hex') })).not.toThrow();
  });

  it('refuses a split that would need the state database in two processes, naming the key', () => {
    const influx = { STORE: 'influx', INFLUX_URL: 'http://influxdb:8086' };
    expect(() => loadConfig({ ...influx, SERVICES: 'api' })).toThrow(/RULES_URL is unset: required when this process runs api without rules/);
    expect(() => loadConfig({ ...influx, SERVICES: 'broker' })).toThrow(/STATE_URL is unset: required when this process runs broker or ingest without rules/);
    expect(() => loadConfig({ ...influx, SERVICES: 'ingest', MQTT_URL: 'mqtt://broker:1883' })).toThrow(/STATE_URL is unset: required/);
    expect(() => loadConfig({ SERVICES: 'ingest', STATE_URL: 'http://rules:8081' })).toThrow(/STORE="embedded": .*set STORE=influx/);
    expect(() => loadConfig({ SERVICES: 'api', RULES_URL: 'http://rules:8081' })).toThrow(/STORE="embedded": .*set STORE=influx/);
    expect(() => loadConfig({ SERVICES: 'rules' })).toThrow(/STORE="embedded": rules without ingest/);
    expect(() => loadConfig({ SERVICES: 'api', RULES_URL: 'rules' })).toThrow(/RULES_URL="rules"/);
  });

  it('takes the four services of the compose stack apart', () => {
    const influx = { STORE: 'influx', INFLUX_URL: 'http://influxdb:8086' };
    expect(loadConfig({ SERVICES: 'broker', STATE_URL: 'http://rules:8081' })).toMatchObject({ SERVICES: ['broker'], OPS_PORT: 8081 });
    expect(loadConfig({ ...influx, SERVICES: 'ingest', STATE_URL: 'http://rules:8081' }).SERVICES).toEqual(['ingest']);
    expect(loadConfig({ ...influx, SERVICES: 'rules', OPS_PORT: '0' })).toMatchObject({ SERVICES: ['rules'], OPS_PORT: 0 });
    expect(loadConfig({ ...influx, SERVICES: 'api', RULES_URL: 'http://rules:8081' }).RULES_URL).toBe('http://rules:8081');
    // an API beside a broker finds devices at RULES_URL too
    expect(loadConfig({ ...influx, SERVICES: 'broker,api', RULES_URL: 'http://rules:8081' }).SERVICES).toEqual(['broker', 'api']);
    expect(loadConfig({ SERVICES: 'broker,ingest,rules' }).SERVICES).toEqual(['broker', 'ingest', 'rules']);
  });

  it('says each problem in one line, naming the key, its value and what is expected', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ HTTP_PORT: '99999' })).toEqual([expect.stringMatching(/^HTTP_PORT="99999": .*65535/)]);
    // broker scale-out (broker/README.md "More than one broker")
    expect(problems({ REDIS_URL: 'localhost:6379' })).toEqual(['REDIS_URL="localhost:6379": a redis:// or rediss:// URL']);
    expect(problems({ INGEST_WORKER: 'worker one' })).toEqual([expect.stringMatching(/^INGEST_WORKER="worker one": 1-40 letters, digits/)]);
    expect(problems({ BROKER_HEARTBEAT_MS: '10' })).toEqual([expect.stringMatching(/^BROKER_HEARTBEAT_MS="10": .*500/)]);
    expect(loadConfig({ REDIS_URL: 'redis://redis:6379', INGEST_WORKER: 'ingest-1' })).toMatchObject({ REDIS_URL: 'redis://redis:6379', INGEST_WORKER: 'ingest-1', INGEST_SHARED: false, BROKER_HEARTBEAT_MS: 5000 });
    expect(problems({ STORE: 'postgres' })).toEqual([expect.stringMatching(/^STORE="postgres": .*"embedded"\|"influx"/)]);
    expect(problems({ NODERED: '1' })).toEqual(['SMS_GATEWAY_URL, EMAIL_API_URL are unset: required when NODERED=1 (the Node-RED flows send alerts to both)']);
    const secrets = Object.fromEntries(['SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_NODERED_SECRET', 'ADMIN_TOKEN', 'SVC_TOKEN'].map((k) => [k, randomBytes(32).toString('base64url')]));
    expect(problems({ HUEWATCH_ENV: 'production', ...secrets })).toEqual([expect.stringMatching(/^VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT are unset: required when HUEWATCH_ENV=production/)]);
    expect(problems({ HUEWATCH_ENV: 'production', ...secrets, VAPID_PUBLIC_KEY: 'p', VAPID_PRIVATE_KEY: 'q', VAPID_SUBJECT: 'mailto:ioc@example.org' })).toEqual([]);
    expect(problems({ HUEWATCH_ENV: 'production', ...secrets, SERVICES: 'broker', STATE_URL: 'http://rules:8081' })).toEqual([]);
  });
});
