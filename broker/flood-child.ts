/**
 * Child-process entry for flood.test.ts: one broker, plain aedes 1.2 or ours, under the flood of
 * flood-load.ts. A child because the crash it looks for is an uncaught RangeError that takes the
 * whole process down, and because the load generator then shares the broker's event loop alike in
 * both modes. Prints one JSON line (FloodChildResult).
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { runFlood, type FloodOptions, type FloodResult } from './flood-load.ts';
import { startHarness, waitFor } from './test-harness.ts';

export interface FloodChildArgs {
  mode: 'plain' | 'huewatch';
  cycles: number;
  stayMs: number;
  deadlineMs: number;
  concurrency: number;
}
export interface FloodChildResult {
  crashed: boolean;
  error?: string;
  flood?: FloodResult;
  /** huewatch mode: of 50 QoS 1 messages sent after the flood, how many the good subscriber got */
  deliveredAfter?: number;
  heapPeakGrowthBytes?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as FloodChildArgs;
const report = (r: FloodChildResult) => {
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(r.crashed ? 70 : 0);
};
process.on('uncaughtException', (err) => report({ crashed: true, error: `${err.name}: ${err.message}` }));

const flooders = ['flooder-0', 'flooder-1', 'flooder-2', 'flooder-3'];
const load = (port: number, secrets?: Map<string, string>): FloodOptions => ({
  port,
  publishers: flooders.map((id) => ({ clientId: id, username: id, password: secrets?.get(id), topic: `huewatch/v1/telemetry/${id}` })),
  victim: { clientIdPrefix: 'svc-ingest-victim', username: 'svc-ingest', password: 'svc-secret-ingest', filter: 'huewatch/v1/telemetry/+' },
  messagesPerPublisher: 400_000,
  payloadBytes: 16,
  victimCycles: args.cycles,
  victimStayMs: args.stayMs,
  deadlineMs: args.deadlineMs,
});

if (args.mode === 'plain') {
  const broker = await Aedes.createBroker({ concurrency: args.concurrency });
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const flood = await runFlood(load((server.address() as { port: number }).port));
  await new Promise((r) => setTimeout(r, 300)); // the recursion comes while the queue drains
  report({ crashed: false, flood });
} else {
  const h = await startHarness([...flooders, 'quiet-1'], { concurrency: args.concurrency, wsPort: undefined });
  const good = await h.service('ingest', 'good');
  let delivered = 0;
  good.on('message', () => delivered++);
  await good.subscribeAsync('huewatch/v1/telemetry/quiet-1', { qos: 1 });

  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 25);
  const flood = await runFlood(load(Number(new URL(h.mqttUrl).port), h.secrets));
  await waitFor(() => h.broker.counters.clients === 1, 5_000); // the flooders are gone
  clearInterval(sampler);

  const quiet = await connectAsync(h.mqttUrl, { clientId: 'quiet-1', username: 'quiet-1', password: h.secrets.get('quiet-1'), reconnectPeriod: 0 });
  for (let i = 0; i < 50; i++) await quiet.publishAsync('huewatch/v1/telemetry/quiet-1', `{"seq":${i}}`, { qos: 1 });
  await waitFor(() => delivered === 50, 5_000);
  await quiet.endAsync();
  await h.close();
  report({ crashed: false, flood, deliveredAfter: delivered, heapPeakGrowthBytes: heapPeak - heapBefore });
}
