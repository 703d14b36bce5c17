import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { hazardOf, SEVERITY_ORDER, severityRank } from './hazard.ts';

const RULES = new URL('../config/rules.yaml', import.meta.url);

describe('the hazard of an alert (what residents choose in their Web Push preferences)', () => {
  it('gives every public rule of the Huế rule file a hazard a resident can choose', () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as { rules: Array<{ id: string; event?: { vi: string; en: string }; category?: string; audience?: string }> }).rules;
    const publicRules = rules.filter((r) => r.event && r.audience !== 'operators');
    expect(publicRules.length).toBeGreaterThan(5);
    const got = Object.fromEntries(publicRules.map((r) => [r.id, hazardOf({ event: r.event!, category: (r.category ?? 'Met') as 'Met' })]));
    for (const [id, h] of Object.entries(got)) expect(h, id).not.toBe('other');
    expect(got).toMatchObject({ 'flood-kim-long': 'flood', rise: 'flood', rain: 'rain', air: 'air', 'release-ta-trach': 'reservoir' });
  });

  it('reads the hazard of manual and vessel alerts from their event, Vietnamese or English, then their category', () => {
    const of = (en: string, vi: string, category = 'Safety') => hazardOf({ event: { en, vi }, category: category as 'Safety' });
    expect(of('Reservoir release', 'Xả lũ hồ chứa')).toBe('reservoir'); // not a flood
    expect(of('Vessels in a storm danger area', 'Tàu trong vùng nguy hiểm do bão')).toBe('storm');
    expect(of('Vessel fishing in a zone it may not use', 'Tàu khai thác sai vùng')).toBe('sea');
    expect(of('Evacuation', 'Sơ tán do sạt lở đất')).toBe('landslide');
    expect(of('Evacuation', 'Sơ tán', 'Fire')).toBe('fire');
    expect(of('Forest fire danger', 'Nguy cơ cháy rừng', 'Fire')).toBe('fire');
    expect(of('Water cut', 'Cắt nước')).toBe('other');
  });

  it('orders severities so that "at least Moderate" means Moderate, Severe and Extreme', () => {
    expect(SEVERITY_ORDER.filter((s) => severityRank(s) >= severityRank('Moderate'))).toEqual(['Moderate', 'Severe', 'Extreme']);
  });
});
