import { z } from 'zod';
import type { AlertEvent, Severity } from './alert.ts';

/**
 * The hazards a resident can choose to hear about (Web Push preferences). An alert carries no
 * hazard field: its hazard is read from its `event` (the rules' alert keys are slugs of `event.en`,
 * rules/schema.ts `alertKey`) and, for manual alerts, its CAP category. One table, so the page,
 * the API and the delivery agree.
 */
export const hazard = z.enum(['flood', 'rain', 'reservoir', 'storm', 'landslide', 'air', 'fire', 'sea', 'other']);
export type Hazard = z.infer<typeof hazard>;

export const HAZARD_NAMES: Record<Hazard, { vi: string; en: string }> = {
  flood: { vi: 'Lũ, nước lên nhanh', en: 'Flood, fast river rise' },
  rain: { vi: 'Mưa lớn', en: 'Heavy rain' },
  reservoir: { vi: 'Hồ chứa xả lũ', en: 'Reservoir release' },
  storm: { vi: 'Bão, áp thấp nhiệt đới', en: 'Storm, tropical depression' },
  landslide: { vi: 'Sạt lở đất, lũ quét', en: 'Landslide, flash flood' },
  air: { vi: 'Chất lượng không khí', en: 'Air quality' },
  fire: { vi: 'Cháy rừng', en: 'Forest fire' },
  sea: { vi: 'Tàu cá trên biển', en: 'Fishing vessels at sea' },
  other: { vi: 'Cảnh báo khác', en: 'Other alerts' },
};

// first match wins: "Reservoir release" and "Flood-cutting operation" are the reservoir's, not a flood;
// "Vessels in a storm danger area" is the storm's
const RULES: Array<[Hazard, RegExp]> = [
  ['reservoir', /reservoir|release|flood-cutting|flood storage|dam\b|hồ chứa|xả lũ/i],
  ['landslide', /landslide|flash flood|sạt lở|lũ quét/i],
  ['storm', /storm|typhoon|tropical depression|bão|áp thấp/i],
  ['flood', /flood|river rise|inundat|lũ|ngập|nước lên/i],
  ['rain', /rain|mưa/i],
  ['air', /air|pm2\.5|pm10|ozone|không khí/i],
  ['fire', /fire|cháy/i],
  ['sea', /vessel|boat|fishing|tàu/i],
];

export function hazardOf(ev: Pick<AlertEvent, 'event' | 'category'>): Hazard {
  const text = `${ev.event.en} ${ev.event.vi}`;
  for (const [h, re] of RULES) if (re.test(text)) return h;
  if (ev.category === 'Fire') return 'fire';
  if (ev.category === 'Geo') return 'landslide';
  return 'other';
}

/** CAP 1.2 severities from least to most; Unknown ranks lowest, so "at least Minor" leaves it out. */
export const SEVERITY_ORDER: readonly Severity[] = ['Unknown', 'Minor', 'Moderate', 'Severe', 'Extreme'];
export const severityRank = (s: Severity) => SEVERITY_ORDER.indexOf(s);
