import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { deviceQuotaSchema } from './device-quota.ts';

const loginLimit = z.object({ points: z.number().int().positive(), durationS: z.number().positive(), blockS: z.number().positive() });

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
  /**
   * packets a client may send before its CONNACK (aedes' queueLimit, 42 by default): a device's
   * store-and-forward flush follows its CONNECT at once, in the same TCP segments, while its login
   * is still checked (scrypt). Once packets wait, aedes reads no more of the socket until the
   * CONNACK, so the queue holds what one read brought (64 KiB at most from libuv): 1000 covers a
   * full read of messages of 64 bytes or more (a reading is ~80), and bounds the memory a client
   * can hold before it is let in (~1000 parsed packets); past it the connection is closed.
   */
  preConnackQueue: z.number().int().positive().default(1_000),
  /**
   * levels in a topic or filter: mosquitto's limit (200 separators, so 201 levels), which clients
   * and conformance suites expect to pass; past it the connection closes. aedes' own default is
   * 100; its matcher (qlobber, patched: patches/README.md) allows 1000
   */
  maxTopicLevels: z.number().int().min(1).max(1000).default(201),
  /** one log line per client per interval for refusals; the counter sees every one */
  refusalLogIntervalMs: z.number().int().positive().default(60_000),
  /** per-device publish rate and byte quota (device-quota.ts): one device's flood must not slow the others */
  deviceQuota: deviceQuotaSchema.default(deviceQuotaSchema.parse({})),
  /**
   * failed logins per client address (lib/login-guard.ts): backoff from half of `points`, then
   * lockout; generous, as a site's devices may share one NAT address
   */
  loginPerAddress: loginLimit.default({ points: 30, durationS: 600, blockS: 900 }),
  /** failed logins per username: a device's secret is 256 random bits, its owner never needs many tries */
  loginPerUsername: loginLimit.default({ points: 10, durationS: 600, blockS: 900 }),
  /**
   * scrypt checks at once (libuv's threadpool has 4 threads, shared with file and DNS work):
   * one core is left to the event loop, so a guessing flood cannot starve it (2 cores: 1)
   */
  verifyConcurrency: z.number().int().positive().default(Math.max(1, Math.min(2, availableParallelism() - 1))),
  /**
   * scrypt checks one address may have waiting; past it CONNACK 3 at once. Room for a site's
   * devices behind one NAT, or the simulator's, all logging in at start
   */
  verifyPendingPerAddress: z.number().int().positive().default(128),
  /**
   * scrypt checks waiting in all; past it a newcomer takes the place of the last check of the
   * address with the most waiting (verify-queue.ts), or gets CONNACK 3. ~40 ms each, one or two
   * at a time: 256 is 5 to 10 s of work, the longest a device's first login can wait behind
   * guessers from as many addresses as checks (from fewer, it waits one turn per address)
   */
  verifyPendingMax: z.number().int().positive().default(256),
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
