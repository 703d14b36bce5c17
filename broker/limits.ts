import { z } from 'zod';

/** Limits, each with the reason it exists. Validated once in createBrokerServer, then frozen. */
export const brokerLimitsSchema = z.object({
  /** a reading, a store-and-forward flush or an NMEA burst is a few KiB; 64 KiB leaves headroom */
  maxPayloadBytes: z.number().int().positive().default(64 * 1024),
  /** soft cap on connected clients; past it CONNACK 3 (server unavailable) [MQTT-3.2.2-6] */
  maxClients: z.number().int().positive().default(50_000),
  /** a socket that never sends CONNECT holds memory; aedes' default is 30 s */
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** a subscriber that stops reading is dropped after this, so it cannot stall delivery to others */
  drainTimeoutMs: z.number().int().positive().default(30_000),
  /** messages mqemitter routes at once; aedes' default of 100 queues early under a flood (FACTS.md) */
  concurrency: z.number().int().positive().default(1_000),
  /** one log line per client per interval for refusals; the counter sees every one */
  refusalLogIntervalMs: z.number().int().positive().default(60_000),
});
export type BrokerLimits = z.output<typeof brokerLimitsSchema>;

/** room for the topic and packet id on top of the payload when bounding whole packets */
export const PACKET_OVERHEAD_BYTES = 1024;

/** The limits among a broker's options, validated and frozen. */
export function parseLimits(o: Partial<Record<keyof BrokerLimits, unknown>>): BrokerLimits {
  const keys = Object.keys(brokerLimitsSchema.shape) as Array<keyof BrokerLimits>;
  return Object.freeze(brokerLimitsSchema.parse(Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))));
}

export function payloadBytes(p: string | Buffer): number {
  return typeof p === 'string' ? Buffer.byteLength(p) : p.length;
}
