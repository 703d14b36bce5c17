import { Aedes } from 'aedes';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalBus } from '../../broker/local-bus.ts';
import { topics } from '../../contract/topics.ts';
import { createLogger, silentLogger } from '../../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../../lib/stations.ts';
import { openEmbeddedStore } from '../../store/duckdb.ts';
import { waitFor } from '../../test/helpers.ts';
import { createSosDesk } from './desk.ts';
import { createSosLimits, SosRateLimited } from './limits.ts';
import { createSosMqtt, SOS_MQTT_LOG_INTERVAL_MS } from './mqtt.ts';
import { loadRescueUnits } from './units.ts';

const CALL = { lat: 16.462, lon: 107.556, text: 'Nước lên tới mái', phone: '0912345678' };

/** The MQTT path of residents' SOS over a real broker's in-process bus and a real desk (DuckDB in memory). */
describe('SOS over MQTT (api/sos/mqtt.ts)', () => {
  let broker: Aedes;
  let bus: ReturnType<typeof createLocalBus>;
  let state: Awaited<ReturnType<typeof openEmbeddedStore>>;
  const lines: Array<Record<string, unknown>> = [];
  const clock = { t: Date.parse('2026-10-30T00:00:00Z'), now() { return this.t; } };
  const metrics = new Registry();
  let stop: () => Promise<void>;
  const answers: Array<{ topic: string; body: Record<string, unknown> }> = [];

  beforeEach(async () => {
    broker = await Aedes.createBroker();
    bus = createLocalBus(broker);
    state = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
    const desk = createSosDesk({ state, stations: loadStations(DEFAULT_STATIONS_FILE), units: loadRescueUnits(), retentionMs: 86_400_000, clock, log: silentLogger() });
    await desk.start();
    const log = createLogger('warn', new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } }));
    const sos = createSosMqtt({ bus, desk, limits: createSosLimits(), metrics, log, clock });
    await sos.start();
    bus.on('message', (topic, payload) => { if (topic.endsWith('/sos') && topic.includes('/devices/')) answers.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }); });
    await bus.subscribeAsync('huewatch/v1/devices/+/sos', { qos: 1 });
    stop = async () => {
      await sos.stop();
      desk.stop();
      await bus.close();
      await new Promise<void>((r) => broker.close(() => r()));
      await state.close();
    };
  });
  afterEach(async () => {
    await stop();
    lines.length = 0;
    answers.length = 0;
    metrics.clear();
  });

  it('answers each of 50 garbage calls from a looping app with an error, logs one line a minute for it, and still takes the next good call', async () => {
    for (let i = 0; i < 50; i++) await bus.publishAsync(topics.sos('loop-app'), i % 2 ? 'not json' : JSON.stringify({ ...CALL, phone: '1' }), { qos: 1 });
    await bus.publishAsync(topics.sos('good-app'), JSON.stringify(CALL), { qos: 1 });
    await waitFor(() => answers.length === 51, 10_000, '51 answers');
    const loop = answers.filter((a) => a.topic === topics.sosAnswer('loop-app'));
    expect(loop).toHaveLength(50);
    expect(loop.every((a) => (a.body.error as { code: string }).code === 'HW_ERR_PAYLOAD_INVALID')).toBe(true);
    expect(answers.find((a) => a.topic === topics.sosAnswer('good-app'))!.body).toMatchObject({ status: 'new', token: expect.any(String), district: 'Thành phố Huế' });
    expect(lines.filter((l) => l.deviceId === 'loop-app')).toHaveLength(1);

    // a minute on, its next bad call is logged again, with the number left out
    clock.t += SOS_MQTT_LOG_INTERVAL_MS;
    await bus.publishAsync(topics.sos('loop-app'), 'still not json', { qos: 1 });
    await waitFor(() => answers.length === 52, 10_000, 'the 52nd answer');
    expect(lines.filter((l) => l.deviceId === 'loop-app').at(-1)).toMatchObject({ suppressed: 49, result: 'invalid' });
    expect(await metrics.getSingleMetricAsString('huewatch_sos_mqtt_calls_total')).toMatch(/result="invalid"} 51[\s\S]*result="accepted"} 1|result="accepted"} 1[\s\S]*result="invalid"} 51/);
  }, 60_000);

  it('ignores topics of its tree that name no device, and oversized payloads are errors', async () => {
    await bus.publishAsync('huewatch/v1/sos/a/b', JSON.stringify(CALL), { qos: 1 });
    await bus.publishAsync(topics.sos('big-app'), JSON.stringify({ ...CALL, text: 'x'.repeat(9000) }), { qos: 1 });
    await waitFor(() => answers.length === 1, 10_000, 'one answer');
    expect(answers[0]).toMatchObject({ topic: topics.sosAnswer('big-app'), body: { error: { code: 'HW_ERR_PAYLOAD_INVALID', message: expect.stringMatching(/at most 8192/) } } });
  }, 30_000);
});

describe('SOS limits (api/sos/limits.ts)', () => {
  it('gives a registered app and an HTTP app install of the same name each its own 3 calls, and refuses the 4th with when to try again', async () => {
    const limits = createSosLimits();
    for (let i = 0; i < 3; i++) await limits.consume({ appDevice: 'same-name-1' });
    const err = await limits.consume({ appDevice: 'same-name-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SosRateLimited);
    expect((err as SosRateLimited).retryAfterS).toBeGreaterThan(500);
    for (let i = 0; i < 3; i++) await limits.consume({ install: 'same-name-1', address: `10.0.0.${i}` });
    await expect(limits.consume({ install: 'same-name-1', address: '10.0.0.9' })).rejects.toBeInstanceOf(SosRateLimited);
  });
});
