import type { Logger } from 'pino';

/**
 * Logs a problem at most once per interval per key (e.g. per device), with the number of
 * occurrences suppressed since the last line. A device sending garbage 100 times a second must
 * not drown the log, yet its first problem is always seen at once. The key map is bounded: past
 * `maxKeys`, the oldest key is forgotten (its next problem is logged again).
 */
export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.delete(key); // re-insert so Map order is least-recently-logged first
    if (this.last.size >= this.maxKeys) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    this.last.set(key, { at: t, suppressed: 0 });
    this.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}
