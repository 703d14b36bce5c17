import { describe, expect, it } from 'vitest';
import { runFloodScenario } from './flood-scenario.ts';
import { startHuewatch } from './huewatch-child.ts';

/**
 * Issue #16 point 4, fair under floods: `huewatch start` (SIM=0) while 50 registered devices flood for 20 s (test/flood-scenario.ts: 20 QoS 0 single
 * readings, 20 QoS 1 arrays of 100 readings, 10 their QoS 0 status; raw sockets, no PUBACK
 * awaited) and 5 good devices publish a reading a second, Kim Long's crossing alarm levels 1, 2
 * and 3 into the flood. What residents, operators and the good devices' owners would check.
 * The alert latency is asserted only against a generous bound (CI runs ~90 files on 2 cores);
 * bench/flood-fairness.ts prints the measured figures, with the default quota and without.
 *
 * The quota here is a quarter of the default (5 messages/s, 50 at once): on a machine as loaded
 * as CI, the platform itself may take a flooder's messages slower than the default's 20 a
 * second, and then nothing would be over quota to see. A good device sends one a second.
 */
const QUOTA = { DEVICE_MAX_MSGS_PER_S: '5', DEVICE_MSGS_BURST: '50', DEVICE_MAX_BYTES_PER_S: '1024', DEVICE_BYTES_BURST: '65536' };
describe('fair under floods: 50 registered devices flooding, 5 behaving (#16.4)', () => {
  it('stores the good devices’ readings, brings Kim Long’s alerts to a resident in order, answers /health throughout, and tells the flooders why', async () => {
    const platform = await startHuewatch({ waitMs: 90_000, env: QUOTA });
    const { adminToken } = await platform.secrets();
    const r = await runFloodScenario({ httpUrl: platform.httpUrl, mqttUrl: platform.mqttUrl, adminToken, pid: platform.child.pid, flooders: 50, floodMs: 20_000 });
    const summary = JSON.stringify({
      alerts: r.alerts, health: { asked: r.health.asked, ok: r.health.ok, maxMs: r.health.maxMs, failed: r.health.failed.slice(0, 3) },
      good: r.good, quota: r.quota, rssPeakMb: r.rssPeakMb, flooded: r.flood.map((f) => `${f.deviceId}:${f.written}/${f.errors.length}`).join(' '),
    });

    // the platform kept running: no crash under the flood
    expect(platform.child.exitCode, platform.output().slice(-2000)).toBeNull();

    // every reading a good device had acknowledged is in the store, read back through the API;
    // they kept publishing through the flood (a reading a second for 20 s and more)
    for (const g of r.good) {
      expect(g.acked, `${g.deviceId}: ${summary}`).toBeGreaterThanOrEqual(20);
      expect(g.stored, `${g.deviceId}: ${summary}`).toBeGreaterThanOrEqual(g.acked);
    }

    // Kim Long's crossing reaches an anonymous resident on huewatch/v1/alerts/#, each level once and in order
    expect(r.alerts.map((a) => a.level), summary).toEqual([1, 2, 3]);
    expect(r.alerts.map((a) => a.msgType), summary).toEqual(['Alert', 'Update', 'Update']);
    // arrival within a minute only: on a loaded 2-core machine an Update has come 0.06–20 s after
    // its reading (it reads the stored alert first: rules/alert-chain.ts latestAlert); the bench
    // prints the figure
    for (const a of r.alerts) expect(a.latencyMs, summary).toBeLessThan(60_000);

    // /health answered every time it was asked (each probe bounded at 5 s), twice a second
    expect(r.health.failed, summary).toEqual([]);
    expect(r.health.asked, summary).toBeGreaterThanOrEqual(20);

    // the flooders were held to their quota and told so on their errors topic
    expect(r.quota.dropped, summary).toBeGreaterThan(0);
    const statusFlooders = r.flood.filter((f) => f.topic === 'status');
    expect(statusFlooders).toHaveLength(10);
    for (const f of statusFlooders) {
      // nothing but the quota holds a status flood back: each one ran dry and was told
      expect(f.errors.map((e) => e.code), `${f.deviceId}: ${summary}`).toContain('HW_ERR_RATE_LIMITED');
      expect(f.errors.find((e) => e.code === 'HW_ERR_RATE_LIMITED')).toMatchObject({ topic: `huewatch/v1/status/${f.deviceId}`, problem: expect.stringMatching(/5 messages\/s.*dropped/) });
    }
    // at most one error message a second per device, however hard it floods
    for (const f of r.flood) expect(f.errors.length, f.deviceId).toBeLessThanOrEqual(60);

    // a graceful stop stores every acknowledged reading of the flood first (#11.3): under the full
    // suite's load, with the store slow enough to spool, that drain has taken over a minute
    expect(await platform.stop('SIGTERM', 150_000)).toBe(0);
  }, 400_000);
});
