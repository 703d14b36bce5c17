import { alertEvent, type AlertEvent } from '../contract/index.ts';

/**
 * A Kim Long flood alert as the rules engine raises it (alarm level 1 at 1.0 m, Decision
 * 05/2020/QĐ-TTg), and its Update and Cancel: the events the delivery tests send through every
 * channel. Parsed with the contract schema, so a fixture that drifts from the contract fails here.
 */
export function kimLongAlert(sentMs = Date.parse('2026-11-22T03:00:00Z'), patch: Partial<AlertEvent> = {}): AlertEvent {
  const iso = new Date(sentMs).toISOString();
  return alertEvent.parse({
    id: 'a-kim-long-1',
    key: 'flood:kim-long',
    eventSeq: 1,
    msgType: 'Alert',
    status: 'active',
    event: { vi: 'Lũ sông Hương', en: 'Hương River flood' },
    category: 'Met',
    severity: 'Moderate',
    urgency: 'Immediate',
    certainty: 'Observed',
    level: 1,
    headline: { vi: 'Kim Long vượt báo động 1 (1,2 m)', en: 'Kim Long above alarm level 1 (1.2 m)' },
    description: { vi: 'Mực nước sông Hương tại Kim Long 1,2 m, trên báo động 1 (1,0 m).', en: 'The Hương at Kim Long is at 1.2 m, above alarm level 1 (1.0 m).' },
    instruction: { vi: 'Theo dõi thông tin & chuẩn bị <di dời> khi cần.', en: 'Follow updates & be ready to <move> if told.' },
    area: {
      name: { vi: 'Khu vực trạm Kim Long — phường Kim Long', en: 'Area of Kim Long station — Kim Long ward' },
      codes: ['kim-long'],
      circle: { lat: 16.462, lon: 107.556, radiusKm: 3 },
      polygon: [[16.47, 107.54], [16.47, 107.57], [16.45, 107.57], [16.45, 107.54], [16.47, 107.54]],
    },
    source: { station: 'kim-long', metric: 'water_level', value: 1.2, threshold: 1.0, observedAt: iso },
    sent: iso,
    firstSent: iso,
    expires: new Date(sentMs + 6 * 3600_000).toISOString(),
    ...patch,
  });
}

export function kimLongUpdate(first: AlertEvent, sentMs: number, eventSeq = 2): AlertEvent {
  const iso = new Date(sentMs).toISOString();
  return alertEvent.parse({
    ...first,
    eventSeq,
    msgType: 'Update',
    level: 2,
    severity: 'Severe',
    headline: { vi: 'Kim Long vượt báo động 2 (2,3 m)', en: 'Kim Long above alarm level 2 (2.3 m)' },
    source: { ...first.source, value: 2.3, threshold: 2.0, observedAt: iso },
    sent: iso,
  });
}

export function kimLongCancel(prev: AlertEvent, sentMs: number): AlertEvent {
  const iso = new Date(sentMs).toISOString();
  return alertEvent.parse({
    ...prev,
    eventSeq: prev.eventSeq + 1,
    msgType: 'Cancel',
    status: 'resolved',
    level: 0,
    severity: 'Minor',
    headline: { vi: 'Kim Long xuống dưới báo động 1', en: 'Kim Long back below alarm level 1' },
    source: { ...prev.source, value: 0.8, observedAt: iso },
    sent: iso,
  });
}
