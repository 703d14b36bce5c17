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
    expect(() => loadConfig({ HUEWATCH_ENV: 'production' })).toThrow(/SVC_INGEST_SECRET, .*ADMIN_TOKEN, SVC_TOKEN are unset: required when HUEWATCH_ENV=production/);
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
    expect(problems({ STORE: 'postgres' })).toEqual([expect.stringMatching(/^STORE="postgres": .*"embedded"\|"influx"/)]);
    expect(problems({ NODERED: '1' })).toEqual(['SMS_GATEWAY_URL, EMAIL_API_URL are unset: required when NODERED=1 (the Node-RED flows send alerts to both)']);
    const secrets = Object.fromEntries(['SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_NODERED_SECRET', 'ADMIN_TOKEN', 'SVC_TOKEN'].map((k) => [k, 'x'.repeat(32)]));
    expect(problems({ HUEWATCH_ENV: 'production', ...secrets })).toEqual([expect.stringMatching(/^VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT are unset: required when HUEWATCH_ENV=production/)]);
    expect(problems({ HUEWATCH_ENV: 'production', ...secrets, VAPID_PUBLIC_KEY: 'p', VAPID_PRIVATE_KEY: 'q', VAPID_SUBJECT: 'mailto:ioc@example.org' })).toEqual([]);
    expect(problems({ HUEWATCH_ENV: 'production', ...secrets, SERVICES: 'broker', STATE_URL: 'http://rules:8081' })).toEqual([]);
  });
});
