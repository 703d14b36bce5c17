import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../contract/index.ts';
import { silentLogger } from '../../lib/log.ts';
import type { Platform } from '../../platform/main.ts';
import { openEmbeddedStore } from '../../store/duckdb.ts';
import { connectClient, openSse, registerDevice, startTestPlatform, tempDir, waitFor } from '../../test/helpers.ts';
import { createSosDesk } from '../sos/desk.ts';
import { loadRescueUnits } from '../sos/units.ts';
import { loadStations, DEFAULT_STATIONS_FILE } from '../../lib/stations.ts';

const KIM_LONG = { lat: 16.462, lon: 107.556 };

/** Residents' SOS over the platform's HTTP API (#15.3): as a resident, an operator and a stranger would use it. */
describe('residents\' SOS', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(platform.httpUrl + path, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const operator = () => ({ authorization: `Bearer ${platform.operatorToken}` });
  const sos = (over: Record<string, unknown> = {}) => ({ ...KIM_LONG, located: 'gps', text: 'Nước ngập tới mái nhà, có người già', phone: '0912 345 678', ...over });

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    // a flood alert in force at Kim Long: level 3 (3.5 m) crossed
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    const device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
    await device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: Date.now() - 1000, seq: 1, m: { water_level: 3.8 } }), { qos: 1 });
    await device.endAsync();
    await waitFor(async () => (await call('GET', '/api/v1/alerts')).body.alerts?.some((a: { key: string }) => a.key === 'flood:kim-long'), 10_000, 'the Kim Long flood alert');
  }, 60_000);

  afterAll(async () => {
    await platform?.stop();
    await data?.cleanup();
  });

  it('takes a call from anyone, links the alert in force at its place, and shows the caller its steps, then an operator takes, assigns and closes it', async () => {
    const stream = await openSse(`${platform.httpUrl}/api/v1/stream`, operator());
    const sent = await call('POST', '/api/v1/sos', sos({ deviceId: 'install-aaaa01' }));
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ status: 'new', district: 'Thành phố Huế', alerts: [{ key: 'flood:kim-long', level: 3 }] });
    const { id, token } = sent.body as { id: string; token: string };
    // the operations centre hears of it at once, with the caller's phone and position
    const pushed = await waitFor(() => stream.events.find((e) => e.event === 'sos'), 5_000, 'the sos event');
    expect(JSON.parse(pushed.data)).toMatchObject({ id, personal: { phone: '0912345678', lat: KIM_LONG.lat } });
    stream.close();

    expect((await call('POST', `/api/v1/sos/${id}/take`, undefined, operator())).body).toMatchObject({ status: 'taken', steps: [{ action: 'received' }, { action: 'taken', by: 'operator' }] });
    const list = await call('GET', '/api/v1/sos', undefined, operator());
    const mine = list.body.calls.find((c: { id: string }) => c.id === id);
    expect(mine.units.map((u: { id: string }) => u.id)).toEqual(['qs-hue', 'pccc-tinh', 'bien-phong']);
    expect(mine.trackSha256).toBeUndefined();
    const unknown = await call('POST', `/api/v1/sos/${id}/assign`, { unit: 'batman' }, operator());
    expect(unknown).toMatchObject({ status: 400, body: { message: expect.stringMatching(/unknown rescue unit "batman"/) } });
    expect((await call('POST', `/api/v1/sos/${id}/assign`, { unit: 'qs-hue' }, operator())).body).toMatchObject({ status: 'assigned' });
    expect((await call('POST', `/api/v1/sos/${id}/close`, { note: 'Đã đưa 3 người đến nhà văn hóa' }, operator())).body).toMatchObject({ status: 'closed' });
    expect((await call('POST', `/api/v1/sos/${id}/close`, { note: 'again' }, operator())).status).toBe(409);

    const track = await call('GET', `/api/v1/sos/${id}/track?token=${encodeURIComponent(token)}`);
    expect(track.status).toBe(200);
    expect(track.body.steps.map((s: { action: string }) => s.action)).toEqual(['received', 'taken', 'assigned', 'closed']);
    expect(track.body.steps[2].unit).toEqual({ id: 'qs-hue', name: 'Ban Chỉ huy Quân sự thành phố Huế' });
    expect(JSON.stringify(track.body)).not.toContain('0912345678');
    expect((await call('GET', `/api/v1/sos/${id}/track?token=wrong`)).status).toBe(404);
  });

  it('shows calls only to operators: the caller\'s phone and position are personal data', async () => {
    expect((await call('GET', '/api/v1/sos')).status).toBe(401);
    expect((await call('GET', '/api/v1/sos', undefined, { authorization: `Bearer ${platform.viewerToken}` })).status).toBe(403);
    expect((await call('POST', `/api/v1/sos/00000000-0000-4000-8000-000000000000/take`)).status).toBe(401);
  });

  it('refuses a call that is not one, with the field named, and limits calls per app install and per address', async () => {
    const bad = await call('POST', '/api/v1/sos', sos({ phone: '12345' }));
    expect(bad).toMatchObject({ status: 400, body: { message: expect.stringMatching(/phone/) } });
    expect((await call('POST', '/api/v1/sos', sos({ lat: 21.03, lon: 105.85 }))).status).toBe(400); // Hà Nội
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('POST', '/api/v1/sos', sos({ deviceId: 'install-bbbb02' }))).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    const more: number[] = [];
    for (let i = 0; i < 3; i++) more.push((await call('POST', '/api/v1/sos', sos())).status);
    // 5 per address in 10 minutes: 1 from the first test + 3 above, then 1 more
    expect(more).toEqual([201, 429, 429]);
    const refused = await call('POST', '/api/v1/sos', sos());
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.body.message).toMatch(/112/);
  });
});

describe('the SOS desk', () => {
  it('deletes a closed call\'s personal data after the retention period and keeps what the province reports on', async () => {
    const state = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    const clock = { t: Date.parse('2026-10-30T00:00:00Z'), now() { return this.t; } };
    const desk = createSosDesk({ state, stations: loadStations(DEFAULT_STATIONS_FILE), units: loadRescueUnits(), retentionMs: 90 * 86_400_000, clock, log: silentLogger() });
    await desk.start();
    try {
      const { record } = await desk.submit({ ...KIM_LONG, text: 'Kẹt trên mái nhà', phone: '+84 912 345 678' });
      await desk.take(record.id, 'lan.nguyen');
      await desk.close(record.id, 'Số 12 Kim Long, 3 người', 'lan.nguyen');
      clock.t += 89 * 86_400_000;
      expect(await desk.purge()).toBe(0);
      clock.t += 2 * 86_400_000;
      expect(await desk.purge()).toBe(1);
      const kept = desk.get(record.id)!;
      expect(kept.personal).toBeUndefined();
      expect(kept.steps.map((s) => [s.action, s.by, s.note])).toEqual([['received', undefined, undefined], ['taken', 'lan.nguyen', undefined], ['closed', 'lan.nguyen', undefined]]);
      // and so it stays after a restart: read back from the store
      const again = createSosDesk({ state, stations: [], units: loadRescueUnits(), retentionMs: 1, clock, log: silentLogger() });
      await again.start();
      expect(again.get(record.id)).toMatchObject({ district: 'Thành phố Huế', status: 'closed', purgedAt: expect.any(String) });
      expect(again.get(record.id)!.personal).toBeUndefined();
      again.stop();
    } finally {
      desk.stop();
      await state.close();
    }
  });
});
