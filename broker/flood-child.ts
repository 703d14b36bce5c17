/**
 * Child-process entry for flood.test.ts: one broker, plain aedes 1.2 or ours, under the flood of
 * flood-load.ts. A child because the crash it looks for is an uncaught RangeError that takes the
 * whole process down, and because the load generator then shares the broker's event loop alike in
 * both modes. Prints one JSON line (FloodChildResult).
 */
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { runFlood, type FloodOptions, type FloodResult } from './flood-load.ts';
import { startHarness, waitFor } from './test-harness.ts';

export interface FloodChildArgs {
  /**
   * huewatch: raw-socket publishers flood our broker while a subscriber joins and leaves.
   * plain-direct / huewatch-direct: the same queue state made deterministically through the
   * broker's own API: a slow subscriber holds `concurrency` messages in flight, 50,000 more queue
   * behind them, then the subscriber leaves, so every queued message matches nothing.
   */
  mode: 'huewatch' | 'plain-direct' | 'huewatch-direct';
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

async function queueThenLeave(broker: Aedes): Promise<void> {
  const slow = (_packet: unknown, cb: () => void) => setImmediate(cb);
  await new Promise<void>((r) => broker.subscribe('flood/t', slow as never, () => r()));
  for (let i = 0; i < 50_000; i++) {
    broker.publish({ cmd: 'publish', topic: 'flood/t', payload: Buffer.alloc(8), qos: 0, retain: false, dup: false } as never, () => undefined);
  }
  await new Promise((r) => setImmediate(r));
  broker.unsubscribe('flood/t', slow as never, () => undefined);
  await new Promise((r) => setTimeout(r, 1_000)); // the queue drains (or the stack overflows) here
}

async function deliveredThrough(broker: Aedes, n: number): Promise<number> {
  let delivered = 0;
  const count = (_packet: unknown, cb: () => void) => {
    delivered++;
    cb();
  };
  await new Promise<void>((r) => broker.subscribe('after/t', count as never, () => r()));
  for (let i = 0; i < n; i++) broker.publish({ cmd: 'publish', topic: 'after/t', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false } as never, () => undefined);
  // the 50 go out behind whatever of the 50,000 is still queued: on a loaded machine that takes seconds
  await waitFor(() => delivered === n, 30_000);
  return delivered;
}

if (args.mode === 'plain-direct') {
  const broker = await Aedes.createBroker({ concurrency: args.concurrency });
  await queueThenLeave(broker);
  report({ crashed: false, deliveredAfter: await deliveredThrough(broker, 50) });
} else if (args.mode === 'huewatch-direct') {
  const h = await startHarness([], { concurrency: args.concurrency, wsPort: undefined });
  await queueThenLeave(h.broker.aedes);
  const deliveredAfter = await deliveredThrough(h.broker.aedes, 50);
  await h.close();
  report({ crashed: false, deliveredAfter });
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
