import { z } from 'zod';

/** Durations in requests and config: `30s`, `15m`, `1h`, `1d`, or plain milliseconds. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const duration = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration like 30s, 15m, 1h or 1d')
    .transform((s) => {
      const [, n, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(s)!;
      return Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    })
    .refine((ms) => ms > 0, 'must be positive'),
]);

/** A time in a query string: epoch milliseconds or ISO 8601 with an offset. */
export const instant = z.union([
  z.string().regex(/^\d+$/).transform(Number),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
