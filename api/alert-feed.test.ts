import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../broker/test-harness.ts';
import type { AlertEvent } from '../contract/alert.ts';
import { OPERATORS_AREA } from '../contract/topics.ts';
import { silentLogger } from '../lib/log.ts';
import { publishEvent } from '../rules/alerts.ts';
import { openEmbeddedStore, type EmbeddedStore } from '../store/duckdb.ts';
import { kimLongAlert, kimLongCancel, kimLongUpdate } from '../test/alert-fixtures.ts';
import { tempDir, waitFor } from '../test/helpers.ts';
import { createAlertFeed } from './alert-feed.ts';

/**
 * The API's alert feed across a restart of its process, with the rules going on meanwhile (a
 * split deployment): a real aedes broker (our ACL), the real embedded store, MQTT.js clients.
 */
const log = silentLogger();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup() {
  const dir = await tempDir('huewatch-feed-');
  cleanup.push(() => dir.cleanup());
  const store = await openEmbeddedStore({ file: join(dir.dir, 'state.duckdb'), log });
  cleanup.push(() => store.close());
  const h: Harness = await startHarness([]);
  cleanup.push(() => h.close());
  const rules = await h.service('rules', '-test');
  /** as the rules engine does: the event into the store, then onto the alerts topic */
  const raise = async (event: AlertEvent) => {
    await store.appendAlertEvent(event);
    await publishEvent(rules, event);
  };
  let n = 0;
  /** an API process coming up: its feed, with a channel subscribed before it starts */
  const startApi = async () => {
    const mqtt = await h.service('api', `-feed-${++n}`);
    const feed = createAlertFeed({ mqtt, state: store, log });
    const got: string[] = [];
    feed.subscribe(({ event }) => got.push(`${event.id} #${event.eventSeq} ${event.msgType}`));
    await feed.start();
    const stop = async () => {
      await feed.stop();
      await mqtt.endAsync();
    };
    cleanup.push(stop);
    return { got, stop };
  };
  return { store, raise, startApi };
}

const settle = () => new Promise((r) => setTimeout(r, 300)); // retained copies arrive after SUBACK

describe('the alert feed across a restart of the API', () => {
  it('hands on, once and in order, what changed while it was down, a Cancel included', async () => {
    const { raise, startApi } = await setup();
    const t = Date.now() - 60_000;
    const kl = kimLongAlert(t, { id: 'a-kl' });
    await raise(kl);

    const first = await startApi(); // first start: what the store holds was handed on before
    await settle();
    expect(first.got).toEqual([]);
    const klUpdate = kimLongUpdate(kl, t + 1000);
    await raise(klUpdate);
    await waitFor(() => first.got.length === 1, 3000, 'the live Update');
    await first.stop();

    // while the API is down: another Update, and an alert raised and cancelled
    await raise(kimLongUpdate(kl, t + 2000, 3));
    const po = kimLongAlert(t + 3000, { id: 'a-po', key: 'flood:phu-oc', area: { ...kl.area, codes: ['phu-oc'] } });
    await raise(po);
    await raise(kimLongCancel(po, t + 4000));

    const second = await startApi();
    await settle();
    expect(second.got).toEqual(['a-kl #3 Update', 'a-po #2 Cancel']);
    await second.stop();

    const third = await startApi(); // nothing missed this time
    await settle();
    expect(third.got).toEqual([]);
  });

  it('hands on alerts for operators only, which reach the API on the operators\' tree', async () => {
    const { raise, startApi } = await setup();
    const api = await startApi();
    const t = Date.now() - 60_000;
    const fault = kimLongAlert(t, { id: 'a-fault', key: 'sensor-fault:kim-long', area: { ...kimLongAlert(t).area, codes: [OPERATORS_AREA] } });
    await raise(fault);
    await raise(kimLongAlert(t + 1000, { id: 'a-kl' }));
    await waitFor(() => api.got.length === 2, 3000, 'both alerts');
    expect(api.got).toEqual(['a-fault #1 Alert', 'a-kl #1 Alert']);
  });
});
