/**
 * `npm run bench`: figures to compare between runs (not pass/fail). Loopback only, every loop
 * bounded in count. Prints one line per figure.
 */
import { performance } from 'node:perf_hooks';
import { decodeTelemetry, topics } from '../contract/index.ts';
import { normaliseReading } from '../ingest/normalise.ts';
import { connectClient, registerDevice, startTestPlatform, tempDir, waitFor } from '../test/helpers.ts';
import { print } from './report.ts';


function benchDecode() {
  const now = Date.now();
  const payload = Buffer.from(JSON.stringify({ ts: now - 1000, seq: 1, m: { water_level: 2.31, battery_v: 12.6, rssi: -71 } }));
  const N = 200_000;
  for (let i = 0; i < 10_000; i++) decodeTelemetry(payload, { now }); // warm up
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = decodeTelemetry(payload, { now });
    if (r.ok) normaliseReading(r.readings[0]!, 'kl-01', 'kim-long');
  }
  const s = (performance.now() - t0) / 1000;
  print('decode+validate+normalise (one core)', N / s, 'readings/s');
}

async function benchEndToEnd() {
  const data = await tempDir('huewatch-bench-');
  // one device sends 5,000 readings as fast as it can: a capacity figure, not a device's quota
  const platform = await startTestPlatform(data.dir, { DEVICE_MAX_MSGS_PER_S: '0', DEVICE_MAX_BYTES_PER_S: '0' });
  try {
    const secret = await registerDevice(platform, 'bench-01', 'kim-long');
    const device = await connectClient(platform.mqttUrl, { username: 'bench-01', password: secret, clientId: 'bench-01' });
    const N = 5_000;
    const t0 = Date.now() - 2 * 86400_000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        device.publishAsync(topics.telemetry('bench-01'), JSON.stringify({ ts: t0 + i * 1000, seq: i + 1, m: { water_level: 1 + (i % 100) / 100 } }), { qos: 1 }),
      ),
    );
    await waitFor(
      async () => {
        const body = (await (await fetch(`${platform.httpUrl}/api/v1/stations/kim-long/series?metric=water_level&from=${t0}&to=${t0 + N * 1000}&every=1d&fn=sum`)).json()) as { points: unknown[] };
        const text = await (await fetch(platform.httpUrl + '/metrics')).text();
        return /huewatch_ingest_readings_stored_total (\d+)/.exec(text)?.[1] === String(N) && body.points.length > 0;
      },
      120_000,
      'every reading stored',
    );
    const s = (performance.now() - started) / 1000;
    print('MQTT QoS 1 publish → stored (embedded store)', N / s, 'readings/s');
    print('process RSS after the run', process.memoryUsage().rss / 1e6, 'MB');
    await device.endAsync();
  } finally {
    await platform.stop();
    await data.cleanup();
  }
}

benchDecode();
await benchEndToEnd();
