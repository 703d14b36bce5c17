import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../platform/main.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from '../test/helpers.ts';
import { topics } from '../contract/index.ts';

/** The HTTP API's contract: answers, aggregation and stable error codes, over a real socket. */
describe('the HTTP API', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  const H = 3600_000;
  const t0 = Math.floor((Date.now() - 10 * H) / H) * H; // an hour boundary, 10 h ago
  const get = async (path: string) => {
    const res = await fetch(platform.httpUrl + path);
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'rg-01', 'rg-nam-dong');
    const device = await connectClient(platform.mqttUrl, { username: 'rg-01', password: secret, clientId: 'rg-01' });
    // Two hours of 15-minute rain: 1, 2, … 8 mm.
    const flush = Array.from({ length: 8 }, (_, i) => ({ ts: t0 + i * 15 * 60_000, seq: i + 1, m: { rainfall: i + 1 } }));
    await device.publishAsync(topics.telemetry('rg-01'), JSON.stringify(flush), { qos: 1 });
    await device.endAsync();
    await waitFor(async () => (await get('/api/v1/stations/rg-nam-dong')).body.latest?.rainfall?.value === 8, 2000);
  });

  afterAll(async () => {
    await platform?.stop();
    await data?.cleanup();
  });

  it('lists every station of the Huế catalogue', async () => {
    const { body } = await get('/api/v1/stations');
    expect(body.stations.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining(['kim-long', 'phu-oc', 'rg-nam-dong', 'ta-trach']));
    expect(body.stations.find((s: { id: string }) => s.id === 'kim-long')).toMatchObject({ kind: 'river', alarmLevels: { 1: 1, 2: 2, 3: 3.5 } });
  });

  it('aggregates a range into hourly sums, maxima and last values', async () => {
    const q = (fn: string) => get(`/api/v1/stations/rg-nam-dong/series?metric=rainfall&from=${new Date(t0).toISOString()}&to=${t0 + 2 * H}&every=1h&fn=${fn}`);
    expect((await q('sum')).body.points).toEqual([
      { ts: new Date(t0).toISOString(), value: 10 },
      { ts: new Date(t0 + H).toISOString(), value: 26 },
    ]);
    expect((await q('max')).body.points.map((p: { value: number }) => p.value)).toEqual([4, 8]);
    expect((await q('last')).body.points.map((p: { value: number }) => p.value)).toEqual([4, 8]);
    expect((await q('mean')).body).toMatchObject({ every: H, fn: 'mean', points: [{ value: 2.5 }, { value: 6.5 }] });
  });

  it.each([
    ['an unknown metric', '/api/v1/stations/kim-long/series?metric=tide', 400, 'HW_ERR_BAD_REQUEST', /metric/],
    ['a malformed interval', '/api/v1/stations/kim-long/series?metric=water_level&every=soon', 400, 'HW_ERR_BAD_REQUEST', /every/],
    ['an unknown aggregate', '/api/v1/stations/kim-long/series?metric=water_level&every=1h&fn=median', 400, 'HW_ERR_BAD_REQUEST', /fn/],
    ['a range that ends before it starts', `/api/v1/stations/kim-long/series?metric=water_level&from=${t0}&to=${t0 - 1}`, 400, 'HW_ERR_BAD_REQUEST', /from/],
    ['too many buckets', `/api/v1/stations/kim-long/series?metric=water_level&from=0&to=${t0}&every=1s`, 400, 'HW_ERR_BAD_REQUEST', /every/],
    ['an unknown station', '/api/v1/stations/atlantis', 404, 'HW_ERR_NOT_FOUND', /atlantis/],
    ['an unknown alert', '/api/v1/alerts/nope', 404, 'HW_ERR_NOT_FOUND', /nope/],
    ['an unknown alert status', '/api/v1/alerts?status=burning', 400, 'HW_ERR_BAD_REQUEST', /status/],
    ['an unknown route', '/api/v2/anything', 404, 'HW_ERR_NOT_FOUND', /no route/],
  ])('answers %s with a stable error code', async (_what, path, status, code, message) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it('exposes Prometheus metrics of every service in the process', async () => {
    const text = await (await fetch(platform.httpUrl + '/metrics')).text();
    for (const name of ['huewatch_ingest_readings_stored_total 8', 'huewatch_broker_clients', 'huewatch_rules_evaluations_total', 'process_resident_memory_bytes']) {
      expect(text).toContain(name);
    }
  });

  it('answers health', async () => {
    expect(await get('/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});
