import { z } from 'zod';

/**
 * Alert events on `huewatch/v1/alerts/{areaCode}/{key}` (DESIGN.md "Wire contract"). The fields are
 * the CAP 1.2 core so an event maps 1:1 onto a CAP message (OASIS CAP 1.2 §3.2): msgType, event,
 * category, severity, urgency, certainty, headline/description/instruction per language, area.
 * `eventSeq` numbers the events of one alert (1 = the Alert, then each Update/Cancel): consumers
 * deduplicate on (id, eventSeq).
 */
export const localized = z.object({ vi: z.string(), en: z.string() });

export const alertStatus = z.enum(['active', 'acknowledged', 'resolved', 'cancelled']);
export const msgType = z.enum(['Alert', 'Update', 'Cancel']);
/** CAP 1.2 §3.2.2 category values */
export const capCategory = z.enum(['Geo', 'Met', 'Safety', 'Security', 'Rescue', 'Fire', 'Health', 'Env', 'Transport', 'Infra', 'CBRNE', 'Other']);
export const severity = z.enum(['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown']);
export const urgency = z.enum(['Immediate', 'Expected', 'Future', 'Past', 'Unknown']);
export const certainty = z.enum(['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown']);

export const alertArea = z.object({
  name: localized,
  /** commune / area codes the alert is published under */
  codes: z.array(z.string()).min(1),
  circle: z.object({ lat: z.number(), lon: z.number(), radiusKm: z.number().positive() }).optional(),
  /** closed ring of [lat, lon] pairs (CAP order) */
  polygon: z.array(z.tuple([z.number(), z.number()])).optional(),
});

export const alertSource = z.object({
  station: z.string(),
  metric: z.string(),
  value: z.number(),
  threshold: z.number(),
  /** observation time of the reading that caused this event, ISO 8601 UTC */
  observedAt: z.iso.datetime({ offset: true }),
});

/** One rolling window of a rain alert: its sum and its own class; the worst window decides the alert. */
export const alertWindow = z.object({
  /** the window, e.g. `24h`, `90m` */
  window: z.string(),
  /** rain in the window, mm */
  sum: z.number(),
  /** the window's own class level; 0 = below its first class */
  level: z.number().int().nonnegative(),
  /** the class's name, e.g. { vi: 'Mưa to', en: 'Heavy rain' } */
  name: localized.optional(),
  /** the value of that class, mm */
  threshold: z.number().optional(),
});

export const alertEvent = z.object({
  id: z.string(),
  key: z.string(),
  eventSeq: z.number().int().positive(),
  msgType,
  status: alertStatus,
  event: localized,
  category: capCategory,
  severity,
  urgency,
  certainty,
  /** domain level, e.g. flood alarm level 1–3; 0 once resolved */
  level: z.number().int().nonnegative(),
  /** the level's own name in its hazard's words ("Báo động 2", "Mưa to", "Kém"); absent once resolved */
  levelName: localized.optional(),
  /** rain alerts: every window's sum and class */
  windows: z.array(alertWindow).optional(),
  headline: localized,
  description: localized,
  instruction: localized,
  area: alertArea,
  source: alertSource,
  /** when this event was sent, ISO 8601 UTC */
  sent: z.iso.datetime({ offset: true }),
  /** when the alert was first raised */
  firstSent: z.iso.datetime({ offset: true }),
  expires: z.iso.datetime({ offset: true }).nullable(),
  /** who acknowledged or cancelled, when an operator did */
  operator: z.object({ user: z.string(), at: z.iso.datetime({ offset: true }), reason: z.string().optional() }).optional(),
});
export type AlertEvent = z.infer<typeof alertEvent>;
export type AlertWindow = z.infer<typeof alertWindow>;
export type AlertStatus = z.infer<typeof alertStatus>;
export type Severity = z.infer<typeof severity>;
