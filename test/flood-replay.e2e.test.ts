import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/index.ts';
import type { QualityReport } from '../rules/quality.ts';
import { waitFor } from './helpers.ts';
import { startHuewatch } from './huewatch-child.ts';

/**
 * `huewatch start --scenario flood-2025`: the recorded late-October 2025 flood replayed by the
 * simulated stations, fast (an hour a second), reaches the platform as Kim Long's first
 * peak above alarm level 3, and the platform's own quality figures find nothing missed or false.
 */
describe('a recorded flood replayed by `huewatch start --scenario`', () => {
  it('raises Kim Long to alarm level 3 on the replayed 27 October peak, every crossing alerted and none false', async () => {
    // every simulated device is registered with a scrypt-hashed secret first: slow on a busy machine
    const platform = await startHuewatch({ args: ['--scenario', 'flood-2025'], env: { SIM: '1', SIM_SPEED: '3600', SIM_INTERVAL_MS: '1000' }, waitMs: 120_000 });
    try {
      expect(platform.output()).toMatch(/simulator\s+on, scenario "flood-2025" at 3600x/);
      const { httpUrl } = platform;
      const { viewerToken } = await platform.secrets();

      // Kim Long passes BĐ3 (3.5 m) 54 simulated hours in: under a minute at 3600x. The simulator
      // starts before the banner, so the history is read, not the alert as it stands now.
      const history = await waitFor(async () => {
        const body = (await (await fetch(`${httpUrl}/api/v1/alerts`)).json()) as { alerts: AlertEvent[] };
        const alert = body.alerts.find((a) => a.key === 'flood:kim-long');
        if (!alert) return undefined;
        const events = ((await (await fetch(`${httpUrl}/api/v1/alerts/${alert.id}`)).json()) as { history: AlertEvent[] }).history;
        return events.some((e) => e.level === 3) && events;
      }, 150_000, 'the Kim Long alert at level 3');
      expect(history.find((e) => e.level === 3)!.source.value).toBeGreaterThanOrEqual(3.5);

      const res = await fetch(`${httpUrl}/api/v1/alerts/quality`, { headers: { authorization: `Bearer ${viewerToken}` } });
      expect(res.status).toBe(200);
      const report = (await res.json()) as QualityReport;
      expect(report.rules.find((r) => r.rule === 'flood-kim-long')!.detail.filter((c) => c.level === 3)).not.toEqual([]);
      for (const id of ['flood-kim-long', 'flood-phu-oc']) {
        const q = report.rules.find((r) => r.rule === id);
        expect(q, id).toBeDefined();
        expect(q!.crossings, `${id}: crossings`).toBeGreaterThan(0);
        expect(q!.detail.filter((c) => c.outcome !== 'alerted'), `${id}: crossings not alerted on their reading`).toEqual([]);
        expect(q!.falseEvents, `${id}: false alerts`).toEqual([]);
      }
    } finally {
      expect(await platform.stop('SIGINT', 20_000)).toBe(0);
    }
  }, 300_000);
});
