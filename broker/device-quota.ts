import { z } from 'zod';

/**
 * Per-device publish quota: two token buckets per device id (messages and bytes), each refilled
 * at its rate up to its burst. Keyed by device id, not by connection, so reconnecting does not
 * refill a bucket. A rate of 0 turns that bucket off.
 *
 * Defaults: a station reports once a minute (every few seconds in a flood scenario; the
 * simulator's fastest is 10 a second), so 20 messages/s and 2 KiB/s (about 40 readings a second)
 * are far above anything real, and a flooder passes them within a second. They also bound what
 * many flooders take together: 50 devices at their quota are ~1,000 messages or ~2,000 readings a
 * second, a fraction of what ingest stores (README "Benchmarks"). The bursts are what a device
 * may send at once: 1,000 messages (what the broker keeps of a flush written right behind a
 * CONNECT: limits.ts preConnackQueue), 64 KiB of payload (one largest message, or ~1,300
 * readings: a day of one a minute). A store-and-forward flush beyond that is slowed to the rate at QoS 1,
 * never refused (publish-quota.ts): nothing of it is lost, and a week's backlog (~500 KB) takes
 * about four minutes.
 */
export const deviceQuotaSchema = z.object({
  /** sustained PUBLISH packets per second per device; 0 = no limit */
  msgsPerS: z.number().nonnegative().default(20),
  /** messages a device may send at once above the rate (a store-and-forward flush) */
  msgsBurst: z.number().int().positive().default(1_000),
  /** sustained payload bytes per second per device; 0 = no limit */
  bytesPerS: z.number().nonnegative().default(2 * 1024),
  /** payload bytes a device may send at once; a message larger than this waits for a full bucket */
  bytesBurst: z.number().int().positive().default(64 * 1024),
});
export type DeviceQuotaLimits = z.output<typeof deviceQuotaSchema>;

/** which bucket ran dry */
export type QuotaReason = 'msgs' | 'bytes';

interface Buckets {
  msgs: number;
  bytes: number;
  /** when the levels above were last brought up to date, ms */
  at: number;
}

export interface DeviceQuota {
  /**
   * For a message that may be dropped (QoS 0): takes its tokens and returns undefined when both
   * buckets hold enough, else takes nothing and returns the bucket that ran dry.
   */
  tryTake(deviceId: string, bytes: number, now: number): QuotaReason | undefined;
  /**
   * For a message that must not be dropped (QoS 1, 2): takes its tokens at once, into debt if
   * need be, and returns how long to hold it so that it goes out at the rate (0: at once). A
   * second message of the same burst waits behind the first: the debt of both is counted.
   */
  reserve(deviceId: string, bytes: number, now: number): { waitMs: number; reason: QuotaReason | undefined };
  /** devices with a bucket kept (not full, or touched within the last sweep interval) */
  readonly tracked: number;
}

/** how often full buckets are forgotten: a device that stays within its quota costs nothing */
const SWEEP_INTERVAL_MS = 60_000;

export function createDeviceQuota(limits: DeviceQuotaLimits): DeviceQuota {
  const { msgsPerS, msgsBurst, bytesPerS, bytesBurst } = limits;
  const devices = new Map<string, Buckets>();
  let sweptAt = 0;

  function bucketsOf(deviceId: string, now: number): Buckets {
    if (now - sweptAt >= SWEEP_INTERVAL_MS) sweep(now);
    let b = devices.get(deviceId);
    if (!b) {
      b = { msgs: msgsBurst, bytes: bytesBurst, at: now };
      devices.set(deviceId, b);
      return b;
    }
    const dt = Math.max(0, now - b.at) / 1000;
    b.msgs = Math.min(msgsBurst, b.msgs + dt * msgsPerS);
    b.bytes = Math.min(bytesBurst, b.bytes + dt * bytesPerS);
    b.at = Math.max(b.at, now);
    return b;
  }

  function sweep(now: number): void {
    sweptAt = now;
    for (const [id, b] of devices) {
      const dt = Math.max(0, now - b.at) / 1000;
      const msgsFull = msgsPerS === 0 || b.msgs + dt * msgsPerS >= msgsBurst;
      const bytesFull = bytesPerS === 0 || b.bytes + dt * bytesPerS >= bytesBurst;
      if (msgsFull && bytesFull) devices.delete(id);
    }
  }

  /** seconds until each bucket holds what this message needs (a message over the burst needs a full bucket) */
  function waits(b: Buckets, bytes: number): { msgs: number; bytes: number } {
    return {
      msgs: msgsPerS === 0 ? 0 : Math.max(0, 1 - b.msgs) / msgsPerS,
      bytes: bytesPerS === 0 ? 0 : Math.max(0, Math.min(bytes, bytesBurst) - b.bytes) / bytesPerS,
    };
  }

  function take(b: Buckets, bytes: number): void {
    if (msgsPerS > 0) b.msgs -= 1;
    if (bytesPerS > 0) b.bytes -= bytes;
  }

  const off = msgsPerS === 0 && bytesPerS === 0;
  return {
    tryTake(deviceId, bytes, now) {
      if (off) return undefined;
      const b = bucketsOf(deviceId, now);
      const w = waits(b, bytes);
      if (w.msgs > 0 || w.bytes > 0) return w.msgs >= w.bytes ? 'msgs' : 'bytes';
      take(b, bytes);
      return undefined;
    },
    reserve(deviceId, bytes, now) {
      if (off) return { waitMs: 0, reason: undefined };
      const b = bucketsOf(deviceId, now);
      const w = waits(b, bytes);
      take(b, bytes);
      const s = Math.max(w.msgs, w.bytes);
      return s > 0 ? { waitMs: Math.ceil(s * 1000), reason: w.msgs >= w.bytes ? 'msgs' : 'bytes' } : { waitMs: 0, reason: undefined };
    },
    get tracked() {
      return devices.size;
    },
  };
}
