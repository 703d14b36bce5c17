import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { topics, type AlertEvent } from '../contract/index.ts';
import type { Platform } from '../platform/main.ts';
import { connectClient, openSse, registerDevice, startTestPlatform, tempDir, waitFor } from './helpers.ts';

/** SSE resume (WHATWG HTML §9.2.4 Last-Event-ID): a console that drops off misses nothing and gets nothing twice. */
describe('the alert stream resumed with Last-Event-ID', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  let device: MqttClient;
  // within the last hour: a reading received more than an hour after its ts is not current (rules/lateness.ts)
  const T0 = Date.now() - 57 * 60_000;
  let seq = 0;
  const publishLevel = (minutes: number, level: number) =>
    device.publishAsync(topics.telemetry('kl-01'), JSON.stringify({ ts: T0 + minutes * 60_000, seq: ++seq, m: { water_level: level } }), { qos: 1 });
  const alerts = (events: Array<{ event: string; id?: string; data: string }>) =>
    events.filter((e) => e.event === 'alert').map((e) => ({ id: e.id, ev: JSON.parse(e.data) as AlertEvent }));

  beforeAll(async () => {
    data = await tempDir();
    platform = await startTestPlatform(data.dir);
    const secret = await registerDevice(platform, 'kl-01', 'kim-long');
    device = await connectClient(platform.mqttUrl, { username: 'kl-01', password: secret, clientId: 'kl-01' });
  });
  const streams: Array<{ close(): Promise<void> }> = [];
  const open = async (path: string, headers?: Record<string, string>) => {
    const s = await openSse(platform.httpUrl + path, headers);
    streams.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await device?.endAsync();
    await platform?.stop();
    await data?.cleanup();
  });

  it('delivers exactly the events missed while disconnected, then the live ones', async () => {
    // a console that stays connected throughout: the truth the resumed one is compared with
    const truth = await open('/api/v1/stream');
    const first = await open('/api/v1/stream');
    await publishLevel(0, 0.8);
    await publishLevel(10, 1.2);
    await waitFor(() => alerts(first.events).some((a) => a.ev.key === 'flood:kim-long'), 2000, 'the Alert');
    const lastId = alerts(first.events).at(-1)!.id!;
    await first.close();

    // While the console is away: an Update, then the recession that resolves the alert.
    await publishLevel(20, 2.3);
    for (const [m, v] of [[30, 0.9], [40, 0.85], [50, 0.8]] as const) await publishLevel(m, v);
    const isFlood = (a: { ev: AlertEvent }) => a.ev.key === 'flood:kim-long';
    await waitFor(() => alerts(truth.events).some((a) => isFlood(a) && a.ev.msgType === 'Cancel'), 3000, 'the Cancel');
    await new Promise((r) => setTimeout(r, 200)); // let any other rule's events of these readings land
    const missed = alerts(truth.events).filter((a) => Number(a.id) > Number(lastId));

    const resumed = await open('/api/v1/stream', { 'last-event-id': lastId });
    await waitFor(() => alerts(resumed.events).length >= missed.length, 2000, 'the missed events');
    await new Promise((r) => setTimeout(r, 200));
    const got = alerts(resumed.events);
    expect(got).toEqual(missed); // same ids, same events, same order: nothing lost, nothing twice
    expect(got.filter(isFlood).map((a) => [a.ev.eventSeq, a.ev.msgType])).toEqual([[2, 'Update'], [3, 'Cancel']]);
    expect(new Set(got.map((a) => a.id)).size).toBe(got.length);
    expect(resumed.events.some((e) => e.event === 'reset')).toBe(false);

    // and then live: a new flood alert arrives once, after the missed ones
    await publishLevel(60, 1.3);
    await waitFor(() => alerts(resumed.events).some((a) => isFlood(a) && a.ev.eventSeq === 1 && Number(a.id) > Number(lastId)), 2000, 'the live Alert');
    const live = alerts(resumed.events).slice(missed.length);
    expect(live.filter(isFlood).map((a) => [a.ev.msgType, a.ev.level])).toEqual([['Alert', 1]]);
    expect(live.every((a) => Number(a.id) > Number(missed.at(-1)!.id))).toBe(true);

    // resuming from the newest id gives nothing old
    const newest = Number(alerts(truth.events).at(-1)!.id);
    const upToDate = await open(`/api/v1/stream?lastEventId=${newest}`);
    await new Promise((r) => setTimeout(r, 200));
    expect(alerts(upToDate.events).filter((a) => Number(a.id) <= newest)).toEqual([]);
  });
});
