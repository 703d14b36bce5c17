import { MAX_BITS_PER_REQUEST, widthOf, type RegisterFunction, type RegisterSpec } from './schema.ts';

/**
 * Which read requests cover a device's registers. Pure. Registers of one table are sorted by
 * address and joined into one request while the request stays within the device's limit and the
 * unused span between two registers is at most `maxGap` — reading a few unmapped registers costs
 * less than another round trip (one RTU round trip at 9600 baud is ~20 ms of line time).
 */

export interface PlannedPoint {
  register: RegisterSpec;
  /** index of its first word (or bit) in the request's reply */
  index: number;
}

export interface ReadRequest {
  function: RegisterFunction;
  address: number;
  count: number;
  points: PlannedPoint[];
}

export interface PlanLimits {
  maxRegistersPerRequest: number;
  maxGap: number;
}

const TABLE_ORDER: readonly RegisterFunction[] = ['coil', 'discrete', 'holding', 'input'];

export function planRequests(registers: readonly RegisterSpec[], limits: PlanLimits): ReadRequest[] {
  const requests: ReadRequest[] = [];
  for (const fn of TABLE_ORDER) {
    const bits = fn === 'coil' || fn === 'discrete';
    // Bits pack 16 to a register's worth of reply, so the register limit is scaled for them.
    const max = bits ? Math.min(MAX_BITS_PER_REQUEST, limits.maxRegistersPerRequest * 16) : limits.maxRegistersPerRequest;
    const gap = bits ? limits.maxGap * 16 : limits.maxGap;
    const regs = registers.filter((r) => r.function === fn).sort((a, b) => a.address - b.address);
    let cur: ReadRequest | undefined;
    for (const r of regs) {
      const width = widthOf(r.type);
      const end = r.address + width; // exclusive
      if (cur && r.address - (cur.address + cur.count) <= gap && end - cur.address <= max) {
        cur.count = Math.max(cur.count, end - cur.address);
        cur.points.push({ register: r, index: r.address - cur.address });
        continue;
      }
      if (width > max) throw new RangeError(`register ${r.name} (${width} words) exceeds ${max} per request`);
      cur = { function: fn, address: r.address, count: width, points: [{ register: r, index: 0 }] };
      requests.push(cur);
    }
  }
  return requests;
}
