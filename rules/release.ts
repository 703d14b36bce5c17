import { randomUUID } from 'node:crypto';
import { alertEvent, type AlertEvent } from '../contract/alert.ts';
import type { Station } from '../contract/station.ts';
import { formatNumber, localTime } from './alert-text.ts';
import { isOpen, isoSeconds } from './alerts.ts';
import { alertKey, type ReleaseRule } from './schema.ts';

/**
 * Release orders (Decision 1606/QĐ-TTg, inter-reservoir operating procedure of the Hương basin):
 * the reservoir operator declares a release (flow range and start time); the communes downstream
 * are warned before the water arrives. A revised order is an Update of the same alert; the
 * operator ends it with a cancel (operator-actions.ts) or it expires at `end`.
 */
export interface ReleaseOrder {
  reservoir: string;
  /** m³/s */
  flowMin: number;
  flowMax: number;
  /** epoch ms when the gates open */
  start: number;
  /** epoch ms when the order ends, if known */
  end?: number;
  user: string;
}

export function releaseProblem(o: ReleaseOrder): string | undefined {
  if (!(o.flowMin >= 0 && o.flowMax >= o.flowMin)) return 'flowMin must be ≥ 0 and flowMax ≥ flowMin';
  if (!Number.isFinite(o.start)) return 'start must be a time';
  if (o.end !== undefined && !(o.end > o.start)) return 'end must be after start';
  if (!o.user) return 'user is required';
  return undefined;
}

export function releaseEvent(rule: ReleaseRule, reservoir: Station, o: ReleaseOrder, prev: AlertEvent | undefined, now: number): AlertEvent {
  const open = isOpen(prev) ? prev : undefined;
  const communes = { vi: rule.downstream.map((d) => d.name.vi).join(', '), en: rule.downstream.map((d) => d.name.en).join(', ') };
  const flow = (lang: 'vi' | 'en') => `${formatNumber(o.flowMin, lang, 0)}–${formatNumber(o.flowMax, lang, 0)} m³/s`;
  const sent = isoSeconds(now);
  return alertEvent.parse({
    ...(open ? { id: open.id, eventSeq: open.eventSeq + 1, firstSent: open.firstSent, msgType: 'Update', status: open.status } : { id: randomUUID(), eventSeq: 1, firstSent: sent, msgType: 'Alert', status: 'active' }),
    key: alertKey(rule),
    event: rule.event,
    category: rule.category,
    severity: 'Severe',
    // CAP 1.2: Expected = "responsive action should be taken soon (within next hour)"; the order is a plan: Likely.
    urgency: o.start > now ? 'Expected' : 'Immediate',
    certainty: 'Likely',
    level: 1,
    headline: {
      vi: `Hồ ${reservoir.name} xả lũ từ ${localTime(o.start, 'vi')}: ${flow('vi')}`,
      en: `${reservoir.name} reservoir releases water from ${localTime(o.start, 'en')}: ${flow('en')}`,
    },
    description: {
      vi: `Theo lệnh vận hành (Quy trình vận hành liên hồ chứa lưu vực sông Hương, Quyết định 1606/QĐ-TTg), hồ ${reservoir.name} xả với lưu lượng ${flow('vi')} từ ${localTime(o.start, 'vi')}${o.end ? ` đến ${localTime(o.end, 'vi')}` : ''}. Nước sông ${reservoir.river ?? ''} hạ du sẽ lên tại: ${communes.vi}.`,
      en: `By operating order (Hương basin inter-reservoir procedure, Decision 1606/QĐ-TTg), ${reservoir.name} releases ${flow('en')} from ${localTime(o.start, 'en')}${o.end ? ` until ${localTime(o.end, 'en')}` : ''}. The river will rise downstream at: ${communes.en}.`,
    },
    instruction: {
      vi: 'Không ở lại bãi sông, không đi qua ngầm, tràn; đưa thuyền, gia súc và tài sản lên cao trước giờ xả.',
      en: 'Leave river banks and do not cross fords or spillways; move boats, livestock and property to high ground before the release.',
    },
    area: {
      name: { vi: `Hạ du hồ ${reservoir.name}: ${communes.vi}`, en: `Downstream of ${reservoir.name}: ${communes.en}` },
      codes: rule.downstream.map((d) => d.code),
      circle: { lat: reservoir.lat, lon: reservoir.lon, radiusKm: rule.radiusKm },
    },
    source: { station: reservoir.id, metric: 'outflow', value: o.flowMax, threshold: o.flowMin, observedAt: new Date(o.start).toISOString() },
    sent,
    expires: o.end !== undefined ? isoSeconds(o.end) : null,
  });
}
