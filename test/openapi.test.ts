import SwaggerParser from '@apidevtools/swagger-parser';
import Fastify, { type RouteOptions } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiOptions } from '../api/deps.ts';
import { registerApi } from '../api/server.ts';
import { silentLogger } from '../lib/log.ts';
import type { Platform } from '../platform/main.ts';
import { startTestPlatform, tempDir } from './helpers.ts';

type Doc = OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject;

/** The console's static files and the description itself are not API operations. */
/** SensorThings API (/sta/v1.1) is described by its standard, OGC 18-088, not here (api/sta/README.md). */
const NOT_OPERATIONS = [/^\/docs(\/|$)/, /^\/$/, /^\/resident\.html$/, /^\/console\//, /^\/console-data\//, /^\/sta\/v1\.1(\/|$)/];
/** fastify's `/a/:id` as OpenAPI's `/a/{id}` */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const operationsOf = (doc: Doc) =>
  Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    (['get', 'put', 'post', 'delete', 'patch'] as const).filter((m) => item?.[m]).map((m) => ({ path, method: m, op: item![m] as Operation })));

/**
 * Every option, so every optional route group is registered. Typed with every key required: an
 * option added to ApiOptions (and the routes it brings) fails the type check until it is added here.
 * Nothing below is called: this build is only held against its own description.
 */
function everyOption(): { [K in keyof Required<ApiOptions>]: ApiOptions[K] } {
  const unused = <T,>(what: string): T =>
    new Proxy({}, { get: (_t, key) => (key === 'then' ? undefined : () => { throw new Error(`${what}.${String(key)} is not used by this test`); }) }) as T;
  return {
    store: unused('store'), state: unused('state'), feed: unused('feed'), devices: unused('devices'), operator: unused('operator'),
    push: unused('push'), vessels: unused('vessels'), modbus: unused('modbus'), deliveryMetrics: unused('deliveryMetrics'), deviceStatus: unused('deviceStatus'),
    publishManualAlert: unused('publishManualAlert'), declareStorm: unused('declareStorm'), degraded: () => [],
    stations: [], metrics: new Registry(), log: silentLogger(), tokens: [], serviceTokens: [], recipientsTokens: [], clock: Date, cap: undefined, console: {}, staMqtt: undefined,
    rules: () => [], accounts: unused('accounts'), loginGuard: unused('loginGuard'), secureCookie: 'auto', operatorPush: unused('operatorPush'), sos: unused('sos'), sosLimits: undefined,
  };
}

describe('the API description (OpenAPI 3 at /docs/json)', () => {
  const app = Fastify();
  const routes: Array<{ method: string; url: string }> = [];
  let doc: Doc;

  beforeAll(async () => {
    app.addHook('onRoute', (r: RouteOptions) => {
      for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
    });
    await registerApi(app, everyOption());
    await app.ready();
    const res = await app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    doc = res.json() as Doc;
  });
  afterAll(() => app.close());

  it('describes every route the API registers, with its method, a summary and its path parameters', () => {
    const operations = routes.filter((r) => !NOT_OPERATIONS.some((p) => p.test(r.url)));
    expect(operations.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const r of operations) {
      const op = doc.paths?.[openApiPath(r.url)]?.[r.method.toLowerCase() as 'get'] as Operation | undefined;
      if (!op) missing.push(`${r.method} ${r.url}: not in the document`);
      else if (!op.summary?.trim()) missing.push(`${r.method} ${r.url}: no summary`);
      const params = [...r.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      const declared = (op?.parameters ?? []).filter((p) => 'in' in p && p.in === 'path').map((p) => (p as OpenAPIV3_1.ParameterObject).name);
      for (const p of params) if (!declared.includes(p!)) missing.push(`${r.method} ${r.url}: path parameter ${p} not declared`);
    }
    expect(missing).toEqual([]);
  });

  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('describes the inputs with the same zod schemas the routes validate with', async () => {
    const series = doc.paths?.['/api/v1/stations/{id}/series']?.get as Operation;
    const metric = series.parameters?.find((p) => 'name' in p && p.name === 'metric') as OpenAPIV3_1.ParameterObject;
    expect(metric).toMatchObject({ in: 'query', required: true });
    expect((metric.schema as { enum?: string[] }).enum).toEqual(expect.arrayContaining(['water_level', 'rainfall']));
    // and the route refuses what the document refuses, with the stable code
    const res = await app.inject('/api/v1/stations/kim-long/series?metric=tide');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'HW_ERR_BAD_REQUEST', message: expect.stringMatching(/metric/) });
  });
});

describe('the API description served by the running platform', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let doc: Doc;

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const res = await fetch(platform.httpUrl + '/docs/json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => {
    await platform?.stop();
    await data?.cleanup();
  });

  it('serves a browsable page at /docs whose scripts and styles come from the platform itself', async () => {
    const res = await fetch(platform.httpUrl + '/docs', { redirect: 'follow' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const a of assets) {
      const url = new URL(a, res.url);
      expect(url.origin).toBe(platform.httpUrl);
      const asset = await fetch(url);
      expect(asset.status, url.pathname).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, url.pathname).toBeGreaterThan(0);
    }
  });

  it('names the bearer tokens of every route that refuses an anonymous caller, and only of those', async () => {
    const wrong: string[] = [];
    for (const { path, method, op } of operationsOf(doc)) {
      const url = platform.httpUrl + path.replace(/\{[^}]+\}/g, 'probe');
      // headers are enough: the stream would never end
      const res = await fetch(url, { method: method.toUpperCase(), signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel();
      const tokenRequired = (op.security ?? []).length > 0 && !(op.security ?? []).some((s) => Object.keys(s).length === 0);
      if ((res.status === 401) !== tokenRequired) wrong.push(`${method.toUpperCase()} ${path}: anonymous ${res.status}, security ${JSON.stringify(op.security ?? null)}`);
      for (const s of op.security ?? []) for (const scheme of Object.keys(s)) {
        if (!doc.components?.securitySchemes?.[scheme]) wrong.push(`${method.toUpperCase()} ${path}: unknown scheme ${scheme}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
