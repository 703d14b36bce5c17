import { randomUUID } from 'node:crypto';
import type { Bus } from '../contract/bus.ts';
import { z } from 'zod';
import { alertArea, alertEvent, capCategory, certainty, localized, severity, urgency, type AlertEvent } from '../contract/alert.ts';
import { publishEvent } from '../rules/alerts.ts';
import type { StateStore } from '../store/types.ts';

/**
 * Manual alerts from the IOC (DESIGN.md "Who may do what": operators send manual alerts), e.g. an
 * evacuation order for an area. They travel the rules engine's path: stored as an alert with its
 * history, published retained on `huewatch/v1/alerts/{areaCode}/{key}` by the rules service's MQTT
 * client (the only principal the ACL lets publish alerts), so residents, the feed, CAP, Web Push,
 * webhooks and Node-RED see them like any other alert; the rules engine's acknowledge/cancel apply.
 */
export const manualAlertBodySchema = z.object({
  /** a short slug; the alert key becomes `manual:{slug}` (one condition at one place) */
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/),
  event: localized,
  category: capCategory.default('Safety'),
  severity,
  urgency: urgency.default('Immediate'),
  certainty: certainty.default('Observed'),
  headline: localized,
  description: localized,
  instruction: localized,
  area: alertArea,
  /** minutes until it expires (≤ 7 days); absent = until cancelled */
  expiresInMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  reason: z.string().max(500).optional(),
});
export type ManualAlertBody = z.infer<typeof manualAlertBodySchema>;

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

/** Pure: the AlertEvent an operator's request becomes. */
export function buildManualAlert(body: ManualAlertBody, by: { user: string; now: number; id?: string }): AlertEvent {
  const sent = iso(by.now);
  return alertEvent.parse({
    id: by.id ?? `manual-${randomUUID()}`,
    key: `manual:${body.slug}`,
    eventSeq: 1,
    msgType: 'Alert',
    status: 'active',
    event: body.event,
    category: body.category,
    severity: body.severity,
    urgency: body.urgency,
    certainty: body.certainty,
    level: 0,
    headline: body.headline,
    description: body.description,
    instruction: body.instruction,
    area: body.area,
    // CAP-ish source: the operations centre itself, no sensor reading behind it
    source: { station: 'ioc', metric: 'manual', value: 0, threshold: 0, observedAt: sent },
    sent,
    firstSent: sent,
    expires: body.expiresInMinutes ? iso(by.now + body.expiresInMinutes * 60_000) : null,
    operator: { user: by.user, at: sent, ...(body.reason ? { reason: body.reason } : {}) },
  });
}

/**
 * `publishManualAlert` for the API, built by the composition root over the rules service's MQTT
 * client (client id `svc-rules-manual`, or the engine's own client) and the state store.
 */
export function createManualAlertPublisher(deps: { mqtt: Bus; state: Pick<StateStore, 'appendAlertEvent'> }) {
  return async function publishManualAlert(event: AlertEvent): Promise<void> {
    await deps.state.appendAlertEvent(event, { manual: true, operator: event.operator?.user });
    await publishEvent(deps.mqtt, event);
  };
}
