import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBus } from './local-bus.ts';
import { startHarness, waitFor, type Harness } from './test-harness.ts';

/**
 * aedes sends a message matched by several of a client's filters once (lib/client.js `dedupe`,
 * patched: patches/README.md). It used to tell duplicates by a high-water mark of the broker's
 * message counter, and so dropped any message routed after a later one: a retained alert waits
 * for its store while the observations published after it go straight on, so a resident
 * subscribed to both lost the alert, and every later one, for as long as observations came.
 * A real broker (test-harness.ts), an MQTT.js resident, the in-process bus the rules publish on.
 */
// aedes' default (memory) persistence; its typings describe the callback API of aedes 0.x
const memory = createRequire(import.meta.url)('aedes-persistence') as () => Record<string, any>;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('a message matched by a resident\u2019s subscriptions', () => {
  it('[MQTT-4.3.2-1] reaches it though it was routed after messages published later (a retained alert behind a slow store, live observations passing it)', async () => {
    // storing a retained message takes 100 ms, as on a busy disk
    const persistence = memory();
    const store = persistence.storeRetained.bind(persistence);
    persistence.storeRetained = async (packet: unknown) => {
      await new Promise((r) => setTimeout(r, 100));
      await store(packet);
    };
    h = await startHarness([], { state: { aedesOptions: { persistence: persistence as never }, kind: 'memory', close: async () => {} } });
    const bus = createLocalBus(h.broker.aedes);
    const resident = await h.connect({ clientId: 'resident-both', clean: true });
    const got: string[] = [];
    resident.on('message', (_t, p) => { if (p.length > 0) got.push(p.toString()); });
    await resident.subscribeAsync(['huewatch/v1/alerts/#', 'huewatch/v1/obs/kim-long'], { qos: 1 });
    for (let i = 0; i < 5; i++) {
      // the alert first, retained; an observation right behind it, not awaited, as ingest publishes
      const alert = bus.publishAsync('huewatch/v1/alerts/kim-long/flood_kim-long', `alert ${i}`, { qos: 1, retain: true });
      const obs = bus.publishAsync('huewatch/v1/obs/kim-long', `obs ${i}`, { qos: 1 });
      await Promise.all([alert, obs]);
    }
    expect(await waitFor(() => got.length >= 10, 5_000), `received: ${got.join(', ')}`).toBe(true);
    expect(got.filter((m) => m.startsWith('alert'))).toEqual(['alert 0', 'alert 1', 'alert 2', 'alert 3', 'alert 4']);
    expect(got.filter((m) => m.startsWith('obs'))).toEqual(['obs 0', 'obs 1', 'obs 2', 'obs 3', 'obs 4']);
  });

  it('[MQTT-3.3.5-1] is sent once to a client whose two filters match it, QoS 1 and 0 alike', async () => {
    h = await startHarness([]);
    const bus = createLocalBus(h.broker.aedes);
    const resident = await h.connect({ clientId: 'resident-overlap', clean: true });
    const got: string[] = [];
    resident.on('message', (t, p) => got.push(`${t} ${p.toString()}`));
    await resident.subscribeAsync(['huewatch/v1/alerts/#', 'huewatch/v1/alerts/kim-long/+'], { qos: 1 });
    await bus.publishAsync('huewatch/v1/alerts/kim-long/flood_kim-long', 'one', { qos: 1 });
    await bus.publishAsync('huewatch/v1/alerts/kim-long/flood_kim-long', 'zero', { qos: 0 });
    await bus.publishAsync('huewatch/v1/alerts/kim-long/flood_kim-long', 'end', { qos: 1 });
    expect(await waitFor(() => got.includes('huewatch/v1/alerts/kim-long/flood_kim-long end'), 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(['one', 'zero', 'end'].map((p) => `huewatch/v1/alerts/kim-long/flood_kim-long ${p}`));
  });
});
