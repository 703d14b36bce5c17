import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ErrorCode } from '../contract/errors.ts';
import { OperatorActionError, type OperatorActions } from '../rules/operator-actions.ts';
import { freePort } from '../store/test-servers.ts';
import { DeviceError } from '../lib/devices.ts';
import { silentLogger } from '../lib/log.ts';
import { startOpsServer, type OpsServer } from './ops-server.ts';
import { createRemote, RPC_PATH, rpcRoutes, RpcError } from './rpc.ts';

/** The internal RPC over a real socket: who may call what, and errors that cross as themselves. */
describe('the internal RPC', () => {
  const TOKEN = 'service-token-for-the-rpc-tests';
  let ops: OpsServer;
  const calls: unknown[][] = [];
  const operator = {
    async acknowledge(id: string, user: string) {
      calls.push([id, user]);
      if (id !== 'a-1') throw new OperatorActionError(ErrorCode.NOT_FOUND, `no alert ${id}`);
      return { id, status: 'acknowledged', operator: { user } };
    },
    async cancel(id: string) {
      throw new OperatorActionError(ErrorCode.BAD_REQUEST, `alert ${id} is cancelled`);
    },
    async declareRelease() {
      throw new Error('the disk is on fire');
    },
    /** not in the allow-list: must not be callable */
    async wipe() {
      calls.push(['wipe']);
    },
  };
  const devices = {
    async registerDevice(deviceId: string, station: string) {
      throw new DeviceError(ErrorCode.BAD_REQUEST, `station: no station "${station}" for ${deviceId}`);
    },
  };
  const state = {
    async getJson(ns: string, key: string) {
      return ns === 'ns' && key === 'k' ? { n: 1, at: 1763870400000 } : undefined;
    },
    async listAlerts(filter?: { status?: string[] }) {
      return filter === undefined ? ['no filter'] : [filter];
    },
  };
  const post = async (path: string, body: unknown, token: string | null = TOKEN) => {
    const res = await fetch(`${ops.url}${RPC_PATH}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    ops = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      log: silentLogger(),
      metrics: new Registry(),
      services: ['rules'],
      routes: (app) => rpcRoutes(app, {
        token: TOKEN,
        targets: {
          operator: { object: operator, methods: ['acknowledge', 'cancel', 'declareRelease'] },
          devices: { object: devices, methods: ['registerDevice'] },
          state: { object: state, methods: ['getJson', 'listAlerts'] },
        },
      }),
    });
  });
  afterAll(async () => {
    await ops?.close();
  });

  it('answers a call with its result', async () => {
    expect(await post('operator/acknowledge', ['a-1', 'op'])).toEqual({ status: 200, body: { result: { id: 'a-1', status: 'acknowledged', operator: { user: 'op' } } } });
    const remote = createRemote<typeof state>(ops.url, TOKEN, 'state', ['getJson', 'listAlerts']);
    expect(await remote.getJson('ns', 'k')).toEqual({ n: 1, at: 1763870400000 });
    expect(await remote.getJson('ns', 'other')).toBeUndefined();
    // an optional argument left out stays left out (not null)
    expect(await remote.listAlerts(undefined)).toEqual(['no filter']);
    expect(await remote.listAlerts({ status: ['active'] })).toEqual([{ status: ['active'] }]);
  });

  it('refuses a call without the services\' token, or with another one (401)', async () => {
    calls.length = 0;
    expect(await post('operator/acknowledge', ['a-1', 'op'], null)).toMatchObject({ status: 401, body: { error: { name: 'RpcError', code: ErrorCode.NOT_AUTHORIZED } } });
    expect(await post('operator/acknowledge', ['a-1', 'op'], 'not-the-service-token-at-all')).toMatchObject({ status: 401, body: { error: { code: ErrorCode.NOT_AUTHORIZED } } });
    const remote = createRemote<OperatorActions>(ops.url, 'not-the-service-token-at-all', 'operator', ['acknowledge'], { name: 'rules' });
    const err = await remote.acknowledge('a-1', 'op').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ status: 401, code: ErrorCode.NOT_AUTHORIZED, message: expect.stringContaining(`rules at ${ops.url}`) });
    expect(calls).toEqual([]);
  });

  it('refuses an unknown target, a method not on the list and inherited properties (404)', async () => {
    calls.length = 0;
    for (const path of ['nothing/acknowledge', 'operator/wipe', 'operator/constructor', 'operator/toString', 'operator/__proto__', 'state/close', '__proto__/acknowledge', 'hasOwnProperty/x']) {
      expect(await post(path, []), path).toMatchObject({ status: 404, body: { error: { name: 'RpcError', code: ErrorCode.NOT_FOUND } } });
    }
    expect(calls).toEqual([]);
  });

  it('refuses a body that is not an array of arguments (400)', async () => {
    expect(await post('operator/acknowledge', { id: 'a-1' })).toMatchObject({ status: 400, body: { error: { code: ErrorCode.BAD_REQUEST } } });
    expect(await post('operator/acknowledge', 'a-1')).toMatchObject({ status: 400 });
  });

  it('throws an OperatorActionError or DeviceError again on the caller\'s side as the same class and code', async () => {
    expect(await post('operator/acknowledge', ['nope', 'op'])).toEqual({ status: 404, body: { error: { name: 'OperatorActionError', code: ErrorCode.NOT_FOUND, message: 'no alert nope' } } });
    const remote = createRemote<OperatorActions>(ops.url, TOKEN, 'operator', ['acknowledge', 'cancel', 'declareRelease']);
    const notFound = await remote.acknowledge('nope', 'op').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OperatorActionError);
    expect(notFound).toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'no alert nope' });
    const refused = await remote.cancel('a-2', 'op', 'why').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OperatorActionError);
    expect(refused).toMatchObject({ code: ErrorCode.BAD_REQUEST });

    const dev = createRemote<typeof devices>(ops.url, TOKEN, 'devices', ['registerDevice']);
    const bad = await dev.registerDevice('x-1', 'atlantis').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DeviceError);
    expect(bad).toMatchObject({ code: ErrorCode.BAD_REQUEST, message: 'station: no station "atlantis" for x-1' });

    // any other error arrives as an internal RpcError with the remote's message
    const other = await remote.declareRelease({ reservoir: 'ta-trach', flowMin: 1, flowMax: 2, start: 0, user: 'op' }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(RpcError);
    expect(other).toMatchObject({ status: 500, code: ErrorCode.INTERNAL, message: expect.stringContaining('the disk is on fire') });
  });

  it('names the remote when it cannot be reached, and gives up after its timeout', async () => {
    const port = await freePort();
    const gone = createRemote<OperatorActions>(`http://127.0.0.1:${port}`, TOKEN, 'operator', ['acknowledge'], { name: 'rules' });
    const err = await gone.acknowledge('a-1', 'op').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as Error).message).toMatch(new RegExp(`^rules at http://127\\.0\\.0\\.1:${port}: cannot call operator\\.acknowledge \\(ECONNREFUSED\\)`));

    const { createServer } = await import('node:http');
    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const slow = createRemote<OperatorActions>(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, TOKEN, 'operator', ['acknowledge'], { name: 'rules', timeoutMs: 200 });
    const started = Date.now();
    const late = await slow.acknowledge('a-1', 'op').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((late as Error).message).toMatch(/no answer within 200 ms/);
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('serves health and metrics on the ops listener, and answers 503 while something is down', async () => {
    expect(await (await fetch(`${ops.url}/health`)).json()).toMatchObject({ status: 'ok', services: ['rules'] });
    const res = await fetch(`${ops.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);

    const metrics = new Registry();
    metrics.registerMetric(new (await import('prom-client')).Counter({ name: 'huewatch_test_total', help: 'a test counter', registers: [] }));
    let down = ['MQTT svc-ingest is not connected'];
    const other = await startOpsServer({ host: '127.0.0.1', port: 0, log: silentLogger(), metrics, services: ['ingest'], problems: () => down });
    try {
      const sick = await fetch(`${other.url}/health`);
      expect({ status: sick.status, body: await sick.json() }).toEqual({ status: 503, body: { status: 'unavailable', services: ['ingest'], problems: down } });
      down = [];
      expect((await fetch(`${other.url}/health`)).status).toBe(200);
      expect(await (await fetch(`${other.url}/metrics`)).text()).toContain('huewatch_test_total 0');
    } finally {
      await other.close();
    }
  });
});
