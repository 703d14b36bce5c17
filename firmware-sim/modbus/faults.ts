import { z } from 'zod';

/**
 * What a simulated Modbus device does wrong, switchable at run time (tests, the bench, a
 * technician rehearsing a field fault). Each mode is a failure seen on real PLC links.
 */
export const faultMode = z.enum([
  'none',
  /** powered off, cable cut: requests vanish */
  'silent',
  /** every read answers with `exception` (e.g. 6 SERVER_DEVICE_BUSY during a PLC program download) */
  'exception',
  /** TCP: the PLC drops the connection on each request (a full connection table does this) */
  'close',
  /** replies come `delayMs` late: a loaded PLC, a radio link */
  'slow',
  /** replies carry another unit id: two slaves on one line answering to the same address */
  'wrong-unit',
]);
export type FaultMode = z.infer<typeof faultMode>;

export interface Faults {
  mode: FaultMode;
  delayMs: number;
  exception: number;
}

export function noFaults(): Faults {
  return { mode: 'none', delayMs: 0, exception: 6 };
}
