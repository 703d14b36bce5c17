import Fastify, { type FastifyInstance } from 'fastify';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, sha256Hex } from '../api/auth.ts';
import { installErrorHandler } from '../api/errors.ts';
import { manualAlertRoutes } from '../api/routes/manual-alerts.ts';
import { alertEvent, subscriptions } from '../contract/index.ts';
import { createManualAlertPublisher } from '../delivery/manual-alerts.ts';
import { silentLogger } from '../lib/log.ts';
import type { Platform } from '../platform/main.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { collect, connectClient, openSse, startTestPlatform, tempDir, waitFor } from './helpers.ts';

const RULES_SECRET = 'rules-secret-0123456789abc';

/**
 * An IOC operator's evacuation order through `POST /api/v1/alerts`, published with the rules
 * service's MQTT credentials (the only alerts publisher the ACL allows), reaching a resident over
 * MQTT-over-WebSocket and the platform's SSE feed like any rule-raised alert.
 */
describe('a manual alert from the operations centre', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let rules: MqttClient;
  let state: EmbeddedStore;
  let app: FastifyInstance;
  const body = {
    slug: 'evac-kim-long',
    event: { vi: 'Lệnh sơ tán', en: 'Evacuation order' },
    severity: 'Extreme',
    headline: { vi: 'Sơ tán khẩn cấp ven sông Hương, phường Kim Long', en: 'Evacuate the Hương riverside in Kim Long now' },
    description: { vi: 'Nước lũ lên nhanh.', en: 'Flood water is rising fast.' },
    instruction: { vi: 'Di chuyển đến trường THCS Kim Long.', en: 'Go to Kim Long secondary school.' },
    area: { name: { vi: 'Phường Kim Long', en: 'Kim Long ward' }, codes: ['kim-long'], circle: { lat: 16.462, lon: 107.556, radiusKm: 1.5 } },
    expiresInMinutes: 360,
    reason: 'Quyết định của Ban chỉ huy PCTT',
  };

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir, { SVC_RULES_SECRET: RULES_SECRET });
    rules = await connectClient(platform.mqttUrl, { username: 'svc-rules', password: RULES_SECRET, clientId: 'svc-rules-manual' });
    // the platform's store is locked by its own process; the composition root passes that one
    state = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    app = Fastify();
    installErrorHandler(app);
    const requireRole = bearerAuth([{ name: 'ioc-duty', role: 'operator', sha256: sha256Hex('operator-token') }, { name: 'citizen', role: 'viewer', sha256: sha256Hex('viewer-token') }]);
    await app.register(async (scope) => manualAlertRoutes(scope, { requireRole, publishManualAlert: createManualAlertPublisher({ mqtt: rules, state }) }));
  });
  afterAll(async () => {
    await app?.close();
    await state?.close();
    await rules?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('reaches residents and the alert stream on the same path as rule alerts', async () => {
    const resident = await connectClient(`ws://127.0.0.1:${platform.wsPort}/mqtt`, { clientId: 'resident-phone' });
    const seen = collect(resident);
    await resident.subscribeAsync(subscriptions.areaAlerts('kim-long'), { qos: 1 });
    const sse = await openSse(platform.httpUrl + '/api/v1/stream');
    try {
      const res = await app.inject({ method: 'POST', url: '/api/v1/alerts', headers: { authorization: 'Bearer operator-token' }, payload: body });
      expect(res.statusCode).toBe(201);
      const sent = alertEvent.parse(res.json());
      expect(sent).toMatchObject({ key: 'manual:evac-kim-long', msgType: 'Alert', status: 'active', severity: 'Extreme', category: 'Safety', operator: { user: 'ioc-duty', reason: body.reason } });
      const got = await waitFor(() => seen.find((m) => m.payload.includes(sent.id)), 2000, 'the alert at the resident');
      expect(JSON.parse(got.payload)).toEqual(sent);
      await waitFor(() => sse.events.some((e) => e.event === 'alert' && JSON.parse(e.data).id === sent.id), 2000, 'the alert on SSE');
      expect((await state.getAlert(sent.id))?.headline.vi).toBe(body.headline.vi);
    } finally {
      await sse.close();
      await resident.endAsync();
    }
  });

  it('refuses viewers and invalid bodies with stable codes', async () => {
    const asViewer = await app.inject({ method: 'POST', url: '/api/v1/alerts', headers: { authorization: 'Bearer viewer-token' }, payload: body });
    expect([asViewer.statusCode, asViewer.json().code]).toEqual([403, 'HW_ERR_NOT_AUTHORIZED']);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/alerts', headers: { authorization: 'Bearer operator-token' }, payload: { ...body, area: { ...body.area, codes: [] } } });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'HW_ERR_BAD_REQUEST']);
    expect(bad.json().message).toMatch(/^area\.codes/);
  });
});
