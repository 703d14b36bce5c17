import { Counter, Histogram, type Registry } from 'prom-client';
import type { AlertEvent } from '../contract/alert.ts';

/**
 * webhook, webpush: pushed by us, counted when the receiver accepted it. mqtt: reached an MQTT
 * subscriber of the alerts topic (measured at the API's own subscription, a resident's peer on
 * the same broker). sse: written to an IOC console's stream. cap: a CAP message fetched.
 */
export const CHANNELS = ['webhook', 'webpush', 'mqtt', 'sse', 'cap'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * Delivery metrics per channel (Prometheus, on the platform's Registry): what was delivered, what
 * failed and why, and how long after the alert event was created (`sent`) it reached the
 * receiver. The latency buckets span the design's "within seconds" up to retries after an outage.
 */
export function createDeliveryMetrics(registry: Registry, clock: { now(): number } = Date) {
  const sent = new Counter({ name: 'huewatch_delivery_sent_total', help: 'Alert events delivered, by channel', labelNames: ['channel'], registers: [registry] });
  const failed = new Counter({
    name: 'huewatch_delivery_failed_total',
    help: 'Failed delivery attempts, by channel and outcome (retry = will try again, gave_up, gone = receiver no longer exists)',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'huewatch_delivery_latency_seconds',
    help: 'From the alert event being sent by the rules engine (its `sent`) to its delivery, by channel',
    labelNames: ['channel'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200],
    registers: [registry],
  });
  return {
    delivered(channel: Channel, event: Pick<AlertEvent, 'sent'>) {
      sent.inc({ channel });
      latency.observe({ channel }, Math.max(0, clock.now() - Date.parse(event.sent)) / 1000);
    },
    failed(channel: Channel, outcome: 'retry' | 'gave_up' | 'gone') {
      failed.inc({ channel, outcome });
    },
  };
}
export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
