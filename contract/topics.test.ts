import { describe, expect, it } from 'vitest';
import { isOperatorsOnly, OPERATORS_AREA, parseTopic, subscriptions, topics } from './topics.ts';

describe('topics', () => {
  it('builds and parses device topics', () => {
    expect(topics.telemetry('kl-01')).toBe('huewatch/v1/telemetry/kl-01');
    expect(parseTopic('huewatch/v1/telemetry/kl-01')).toEqual({ kind: 'telemetry', id: 'kl-01', rest: [] });
  });

  it('puts the alert key as the last level so each active alert of an area is retained on its own', () => {
    expect(topics.alert('kim-long', 'flood:kim-long')).toBe('huewatch/v1/alerts/kim-long/flood_kim-long');
    expect(parseTopic(topics.alert('kim-long', 'flood:kim-long'))).toEqual({ kind: 'alerts', id: 'kim-long', rest: ['flood_kim-long'] });
  });

  it('puts operators-only alerts on a tree of their own, outside the residents\' huewatch/v1/alerts/#', () => {
    expect(topics.alert(OPERATORS_AREA, 'sensor-fault:kim-long')).toBe('huewatch/v1/ops/alerts/sensor-fault_kim-long');
    expect(topics.opsAlert('device-offline:kim-long')).toBe('huewatch/v1/ops/alerts/device-offline_kim-long');
    expect(subscriptions.opsAlerts).toBe('huewatch/v1/ops/alerts/#');
    expect(topics.alert(OPERATORS_AREA, 'x').startsWith(subscriptions.allAlerts.slice(0, -1))).toBe(false);
    expect(isOperatorsOnly({ area: { codes: ['operators'] } })).toBe(true);
    expect(isOperatorsOnly({ area: { codes: ['kim-long'] } })).toBe(false);
    expect(isOperatorsOnly({ area: { codes: ['kim-long', 'operators'] } })).toBe(false); // also for residents: public
  });

  it('rejects topics outside the tree, wildcards and extra levels', () => {
    for (const t of ['other/v1/telemetry/a', 'huewatch/v1/telemetry/+', 'huewatch/v1/telemetry/a/b', 'huewatch/v1/nothing/a', 'huewatch/v1/telemetry/']) {
      expect(parseTopic(t)).toBeUndefined();
    }
  });
});
