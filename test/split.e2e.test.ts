import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent, topics, type AlertEvent } from '../contract/index.ts';
import { freePort, influxql, startInfluxd, startV2WriteShim, type RestartableServer, type WriteShim } from '../store/test-servers.ts';
import { collect, connectClient, tempDir, waitFor } from './helpers.ts';
import { BIN, startHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * The compose stack's split (docker-compose.yml), without Docker: broker, ingest, rules and API as
 * four `huewatch start` processes with their own data folders, sharing only the secrets, MQTT,
 * InfluxDB (influxd 1.6.7) and HTTP: the rules process owns the state database, the API calls it
 * over the internal RPC, broker and ingest look devices up there. Then what a user checks.
 */
const run = promisify(execFile);
const SECRETS = {
  SVC_INGEST_SECRET: 'ingest-secret-for-the-split-test',
  SVC_RULES_SECRET: 'rules-secret-for-the-split-test',
  SVC_API_SECRET: 'api-secret-for-the-split-test',
  SVC_NODERED_SECRET: 'nodered-secret-for-the-split-test',
  SVC_TOKEN: 'service-token-for-the-split-test',
  ADMIN_TOKEN: 'admin-token-for-the-split-test',
  OPERATOR_TOKEN: 'operator-token-for-the-split-test',
  VIEWER_TOKEN: 'viewer-token-for-the-split-test',
};

/** one process of the split, named by the services it runs */
type Proc = HuewatchChild & { name: string };

async function startProcess(name: string, dir: string, env: Record<string, string>): Promise<Proc> {
  const p = await startHuewatch({ args: ['--no-sim'], dataDir: dir, waitMs: 30_000, env: { SIM: undefined, ...SECRETS, ...env } });
  return Object.assign(p, { name });
}

const stopProcess = (p: Proc, signal: NodeJS.Signals) => p.stop(signal, 15_000);

describe('broker, ingest, rules and API as four processes', () => {
  let influxd: RestartableServer;
  let shim: WriteShim;
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = [];
  let broker: Proc, ingest: Proc, rules: Proc, api: Proc;
  let device: MqttClient | undefined;
  let resident: MqttClient | undefined;
  let seen: ReturnType<typeof collect>;
  let rulesOps: string;

  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(api.httpUrl + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const floodEvents = () =>
    seen.filter((m) => m.payload.length > 0).map((m) => alertEvent.parse(JSON.parse(m.payload))).filter((e) => e.key === 'flood:kim-long');

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) dirs.push(await tempDir('huewatch-split-'));
    const [brokerDir, ingestDir, rulesDir, apiDir] = dirs.map((d) => d.dir) as [string, string, string, string];
    // The broker starts before the rules process it looks devices up at (lazily, as in compose),
    // so that port is chosen here.
    rulesOps = `http://127.0.0.1:${await freePort()}`;
    [influxd, broker] = await Promise.all([
      startInfluxd(),
      startProcess('broker', brokerDir, { SERVICES: 'broker', STATE_URL: rulesOps }),
    ]);
    // TEST ADAPTER: influxd 1.6.7 has no /api/v2/write (store/test-servers.ts)
    shim = await startV2WriteShim(influxd.url);
    await influxql(influxd.url, 'CREATE DATABASE "split"');
    const store = { STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: 'split', MQTT_URL: broker.mqttUrl };
    [rules, ingest] = await Promise.all([
      startProcess('rules', rulesDir, { ...store, SERVICES: 'rules', OPS_PORT: new URL(rulesOps).port }),
      startProcess('ingest', ingestDir, { ...store, SERVICES: 'ingest', STATE_URL: rulesOps }),
    ]);
    api = await startProcess('api', apiDir, { ...store, SERVICES: 'api', RULES_URL: rules.opsUrl! });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([device?.endAsync(), resident?.endAsync()]);
    await Promise.all([api, ingest, rules, broker].map((p) => p?.stop('SIGKILL')));
    await shim?.stop();
    await influxd?.stop();
    await Promise.all(dirs.map((d) => d.cleanup()));
  });

  it('keeps the state database in the rules process only', () => {
    expect(rules.opsUrl).toBe(rulesOps);
    expect(existsSync(join(rules.dataDir, 'huewatch.duckdb'))).toBe(true);
    for (const p of [broker, ingest, api]) expect(existsSync(join(p.dataDir, 'huewatch.duckdb')), p.name).toBe(false);
    expect(existsSync(join(ingest.dataDir, 'spool.duckdb'))).toBe(true);
    expect(existsSync(join(rules.dataDir, 'vessels.duckdb'))).toBe(true); // the vessel services run beside the state
    expect(api.opsUrl).toBeUndefined(); // the API serves its own /health and /metrics
  });

  it('admits a device registered through the API, stores its reading, and raises the flood alert', async () => {
    const added = await call('POST', '/api/v1/devices', SECRETS.ADMIN_TOKEN, { deviceId: 'kl-01', station: 'kim-long' });
    expect(added).toMatchObject({ status: 201, body: { deviceId: 'kl-01', station: 'kim-long', secret: expect.any(String) } });
    // a refusal of the rules process's registerDevice answers as it would in process
    expect(await call('POST', '/api/v1/devices', SECRETS.ADMIN_TOKEN, { deviceId: 'x-1', station: 'atlantis' })).toMatchObject({ status: 400, body: { code: 'HW_ERR_BAD_REQUEST', message: expect.stringMatching(/atlantis/) } });

    // `huewatch device add` where the API runs goes through it: that process has no state database
    const cli = await run(process.execPath, [BIN, 'device', 'add', 'kl-02', '--station', 'kim-long'], {
      env: { ...process.env, ...SECRETS, DATA_DIR: api.dataDir, SERVICES: 'api', RULES_URL: rules.opsUrl!, STORE: 'influx', INFLUX_URL: shim.url, HTTP_PORT: new URL(api.httpUrl!).port },
    });
    const secret2 = /MQTT password: (\S+)/.exec(cli.stdout)![1]!;
    expect(existsSync(join(api.dataDir, 'huewatch.duckdb'))).toBe(false);
    await (await connectClient(broker.mqttUrl, { username: 'kl-02', password: secret2, clientId: 'kl-02' })).endAsync();

    resident = await connectClient(broker.mqttUrl, { clientId: 'resident-split' });
    seen = collect(resident);
    await resident.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    await expect(connectClient(broker.mqttUrl, { username: 'kl-01', password: 'not-its-secret-at-all', clientId: 'kl-01' })).rejects.toThrow();
    device = await connectClient(broker.mqttUrl, { username: 'kl-01', password: added.body.secret, clientId: 'kl-01' });

    // Kim Long at 1.2 m: past alarm level 1 (1.0 m, Decision 05/2020/QĐ-TTg)
    const ts = Date.now() - 60_000;
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts, seq: 1, m: { water_level: 1.2 } }), { qos: 1 });
    const latest = await waitFor(async () => (await call('GET', '/api/v1/stations/kim-long')).body.latest?.water_level, 10_000, 'the reading through the API');
    expect(latest).toEqual({ value: 1.2, ts: new Date(ts).toISOString(), quality: 'ok', device: 'kl-01' });

    const raised = await waitFor(() => floodEvents()[0], 10_000, 'the alert on MQTT');
    expect(raised).toMatchObject({ status: 'active', level: 1, eventSeq: 1, source: { station: 'kim-long', value: 1.2, threshold: 1 } });
    const listed = await waitFor(async () => (await call('GET', '/api/v1/alerts?status=active')).body.alerts.find((a: AlertEvent) => a.id === raised.id), 2000, 'the alert in the API');
    expect(listed).toEqual(raised);
  });

  it('lets an operator acknowledge the alert through the API, and refuses a viewer', async () => {
    const alert = floodEvents()[0]!;
    expect(await call('POST', `/api/v1/alerts/${alert.id}/ack`)).toMatchObject({ status: 401, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    expect(await call('POST', `/api/v1/alerts/${alert.id}/ack`, SECRETS.VIEWER_TOKEN)).toMatchObject({ status: 403, body: { code: 'HW_ERR_NOT_AUTHORIZED' } });
    // the rules process's OperatorActionError, answered as the API answers it in process
    expect(await call('POST', '/api/v1/alerts/no-such-alert/ack', SECRETS.OPERATOR_TOKEN)).toMatchObject({ status: 404, body: { code: 'HW_ERR_NOT_FOUND' } });
    expect(await call('POST', `/api/v1/alerts/${alert.id}/cancel`, SECRETS.OPERATOR_TOKEN, { reason: '' })).toMatchObject({ status: 400, body: { code: 'HW_ERR_BAD_REQUEST' } });

    const acked = await call('POST', `/api/v1/alerts/${alert.id}/ack`, SECRETS.OPERATOR_TOKEN);
    expect(acked).toMatchObject({ status: 200, body: { id: alert.id, status: 'acknowledged', eventSeq: 2, operator: { user: 'operator' } } });
    await waitFor(() => floodEvents().find((e) => e.eventSeq === 2 && e.status === 'acknowledged'), 5000, 'the acknowledgement on MQTT');
    const shown = await call('GET', `/api/v1/alerts/${alert.id}`);
    expect(shown.body).toMatchObject({ status: 'acknowledged', operator: { user: 'operator' } });
    expect(shown.body.history.map((h: AlertEvent) => h.status)).toEqual(['active', 'acknowledged']);
    // the vessel map is the rules process's too
    expect(await call('GET', '/api/v1/vessels', SECRETS.VIEWER_TOKEN)).toMatchObject({ status: 200, body: { count: expect.any(Number), vessels: expect.any(Array) } });
  });

  it('answers /health and /metrics in every process, each on its own port', async () => {
    const expectations: Array<[Proc, string, string]> = [
      [broker, broker.opsUrl!, 'huewatch_broker_clients'],
      [ingest, ingest.opsUrl!, 'huewatch_ingest_messages_total 1'],
      [rules, rules.opsUrl!, 'huewatch_rules_obs_handled_total'],
      [api, api.httpUrl!, 'process_resident_memory_bytes'],
    ];
    expect(new Set(expectations.map(([, url]) => url)).size).toBe(4);
    for (const [p, url, metric] of expectations) {
      const health = await fetch(`${url}/health`);
      expect(health.status, p.name).toBe(200);
      expect(await health.json(), p.name).toMatchObject({ status: 'ok', ...(p === api ? {} : { services: [p.name] }) });
      expect(await (await fetch(`${url}/metrics`)).text(), p.name).toContain(metric);
    }
    // the internal RPC wants the services' token, and serves only what its allow-list names
    const rpc = (path: string, token?: string) => fetch(`${rules.opsUrl}/internal/v1/rpc/${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: '[]',
    });
    expect((await rpc('state/listAlerts')).status).toBe(401);
    expect((await rpc('state/listAlerts', SECRETS.ADMIN_TOKEN)).status).toBe(401);
    expect(await (await rpc('state/listAlerts', SECRETS.SVC_TOKEN)).json()).toEqual({ result: expect.arrayContaining([expect.objectContaining({ key: 'flood:kim-long', status: 'acknowledged' })]) });
    for (const path of ['state/close', 'state/putDevice', 'operator/constructor', 'engine/stop']) expect((await rpc(path, SECRETS.SVC_TOKEN)).status, path).toBe(404);
  });

  it('stops every process cleanly on SIGTERM or SIGINT', async () => {
    await Promise.all([device?.endAsync(), resident?.endAsync()]);
    device = resident = undefined;
    // in the reverse order of compose's depends_on
    expect(await Promise.all([stopProcess(api, 'SIGTERM'), stopProcess(ingest, 'SIGINT')])).toEqual([0, 0]);
    expect(await stopProcess(rules, 'SIGTERM')).toBe(0);
    expect(await stopProcess(broker, 'SIGTERM')).toBe(0);
    // no errors logged, but the rules engine's own line for the refused acknowledgement above
    for (const p of [api, ingest, rules, broker]) {
      expect(p.output().split('\n').filter((l) => /"level":(50|60)/.test(l) && !l.includes('no alert no-such-alert')), p.name).toEqual([]);
    }
  }, 40_000);
});
