import { describe, expect, it } from 'vitest';
import { parseTopic, topics } from './topics.ts';

describe('topics', () => {
  it('builds and parses device topics', () => {
    expect(topics.telemetry('kl-01')).toBe('huewatch/v1/telemetry/kl-01');
    expect(parseTopic('huewatch/v1/telemetry/kl-01')).toEqual({ kind: 'telemetry', id: 'kl-01', rest: [] });
  });

  it('puts the alert key as the last level so each active alert of an area is retained on its own', () => {
    expect(topics.alert('kim-long', 'flood:kim-long')).toBe('huewatch/v1/alerts/kim-long/flood_kim-long');
    expect(parseTopic(topics.alert('kim-long', 'flood:kim-long'))).toEqual({ kind: 'alerts', id: 'kim-long', rest: ['flood_kim-long'] });
  });

  it('rejects topics outside the tree, wildcards and extra levels', () => {
    for (const t of ['other/v1/telemetry/a', 'huewatch/v1/telemetry/+', 'huewatch/v1/telemetry/a/b', 'huewatch/v1/nothing/a', 'huewatch/v1/telemetry/']) {
      expect(parseTopic(t)).toBeUndefined();
    }
  });
});
