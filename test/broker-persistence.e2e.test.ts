import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, tempDir, waitFor } from './helpers.ts';
import { startHuewatch, type HuewatchChild } from './huewatch-child.ts';

/**
 * One broker, its state on disk (broker/persistence.ts, DATA_DIR/broker): what it acknowledged
 * before a kill -9 is there after `huewatch start` runs again on the same DATA_DIR: the retained
 * alert, a resident's persistent session and the QoS 1 messages queued for it while it was away.
 */
const RULES_SECRET = 'rules-secret-for-the-persistence-test';
const ALERT = 'huewatch/v1/alerts/phu-vang/flood-persist';
const RESIDENT = 'resident-phone-persist';

describe('a broker restart (kill -9) on the same DATA_DIR', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: HuewatchChild | undefined;
  const clients: MqttClient[] = [];
  const start = () => startHuewatch({ dataDir: data.dir, env: { SVC_RULES_SECRET: RULES_SECRET }, waitMs: 150_000 });
  const connect = async (url: string, opts: Parameters<typeof connectClient>[1]) => {
    const c = await connectClient(url, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    data = await tempDir('huewatch-persist-');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await platform?.stop('SIGKILL');
    await data?.cleanup();
  });

  it('keeps the retained alert, the persistent session and its queued QoS 1 messages', async () => {
    platform = await start();
    // a resident's app subscribes with a persistent session, then goes away
    const away = await connect(platform.mqttUrl, { clientId: RESIDENT, clean: false });
    await away.subscribeAsync('huewatch/v1/alerts/phu-vang/#', { qos: 1 });
    await away.endAsync();

    // the rules service publishes a retained alert and three updates at QoS 1; each is acknowledged
    const rules = await connect(platform.mqttUrl, { clientId: 'svc-rules-persist-test', username: 'svc-rules', password: RULES_SECRET });
    await rules.publishAsync(ALERT, JSON.stringify({ n: 0, retained: true }), { qos: 1, retain: true });
    for (let n = 1; n <= 3; n++) await rules.publishAsync(ALERT, JSON.stringify({ n }), { qos: 1 });
    expect(existsSync(join(data.dir, 'broker'))).toBe(true);

    // no clean stop: SIGKILL right after the last PUBACK
    expect(await platform.stop('SIGKILL')).toBeNull();
    rules.end(true);
    platform = await start();

    // a new resident gets the retained alert
    const fresh = await connect(platform.mqttUrl, { clientId: 'resident-phone-new' });
    const freshSeen = collect(fresh);
    await fresh.subscribeAsync('huewatch/v1/alerts/#', { qos: 1 });
    await waitFor(() => freshSeen.length >= 1, 60_000, 'the retained alert after the restart');
    expect(freshSeen[0]).toMatchObject({ topic: ALERT, retain: true, payload: JSON.stringify({ n: 0, retained: true }) });

    // the resident comes back: its session is there, with the four messages queued for it, in order
    // (connected only once its message handler is in place)
    const back = mqtt.connect(platform.mqttUrl, { clientId: RESIDENT, clean: false, manualConnect: true, reconnectPeriod: 0, connectTimeout: 10_000 });
    clients.push(back);
    const seen = collect(back);
    const sessionPresent = await new Promise<boolean>((resolve, reject) => {
      back.once('connect', (connack) => resolve(connack.sessionPresent));
      back.once('error', reject);
      back.connect();
    });
    expect(sessionPresent).toBe(true);
    await waitFor(() => seen.length >= 4, 60_000, 'the queued messages');
    expect(seen.map((m) => JSON.parse(m.payload).n)).toEqual([0, 1, 2, 3]);
    // nothing subscribed again: the subscription itself came back from disk
    await rules.endAsync(true).catch(() => undefined);
    const rules2 = await connect(platform.mqttUrl, { clientId: 'svc-rules-persist-test-2', username: 'svc-rules', password: RULES_SECRET });
    await rules2.publishAsync(ALERT, JSON.stringify({ n: 4 }), { qos: 1 });
    await waitFor(() => seen.length >= 5, 60_000, 'a new message on the restored subscription');
    expect(JSON.parse(seen[4]!.payload).n).toBe(4);
  }, 400_000);
});
