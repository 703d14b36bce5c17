import { z } from 'zod';
import { METRICS, isMetric, type MetricName } from '../contract/metrics.ts';
import { MAX_READINGS_PER_MESSAGE } from '../contract/telemetry.ts';
import type { Values } from './scenarios.ts';

/**
 * What a field station does wrong, injected into a simulated device so the platform's answer can be
 * checked end to end. Each fault is a transform of the device's stream of readings: value faults
 * change a reading (stuck, spike, drift, clock skew), delivery faults change what goes on the wire
 * (gap, duplicate, out-of-order, store-and-forward). Deterministic: the same seed and readings give
 * the same messages.
 */

export const FAULT_KINDS = ['stuck', 'spike', 'drift', 'gap', 'clock-skew', 'duplicate', 'out-of-order', 'store-and-forward'] as const;
export const faultKind = z.enum(FAULT_KINDS);
export type FaultKind = z.infer<typeof faultKind>;

const count = z.number().int().nonnegative();

/** One fault of one device; every field but `kind` has a default (what `SIM_FAULTS` uses). */
export const faultSpec = z.object({
  kind: faultKind,
  /** readings that go out untouched before the fault starts */
  after: count.default(3),
  /** the metric a value fault touches (default: the reading's first measurand, not battery_v or rssi) */
  metric: z.string().refine(isMetric, 'unknown metric').optional(),
  /** spike: chance that a reading is a spike (seeded); the first faulty reading always is */
  rate: z.number().min(0).max(1).default(0.25),
  /** drift: change per hour of reading time (default: the metric's physical range every 10 h, downwards) */
  perHour: z.number().optional(),
  /** clock-skew: what the device's clock adds to the true time (default 1 h ahead) */
  skewMs: z.number().int().default(3_600_000),
  /** gap: readings lost (default: for ever); store-and-forward: readings held before the flush */
  readings: count.optional(),
}).strict();
export type FaultSpec = z.input<typeof faultSpec>;
export type Fault = z.output<typeof faultSpec>;

/** Per-station faults, e.g. `kim-long:stuck,rg-hue:duplicate,rg-hue:gap` (env SIM_FAULTS, `--faults`). */
export const faultList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(
    z.array(
      z.string().transform((entry, ctx) => {
        const [station, kind, extra] = entry.split(':');
        const parsed = faultKind.safeParse(kind);
        if (!station || extra !== undefined || !parsed.success) {
          ctx.addIssue({ code: 'custom', message: `"${entry}": expected station:fault, fault one of ${FAULT_KINDS.join(', ')}` });
          return z.NEVER;
        }
        return { station, kind: parsed.data };
      }),
    ),
  )
  .transform((entries) => {
    const byStation: Record<string, FaultSpec[]> = {};
    for (const e of entries) (byStation[e.station] ??= []).push({ kind: e.kind });
    return byStation;
  });

/** What a device reads: one reading with its own time and sequence number. */
export interface SimReading {
  ts: number;
  seq: number;
  m: Values;
}
/** One MQTT message: a reading, or an array of them (a store-and-forward flush). */
export type SimMessage = SimReading | SimReading[];

/** A spike reads 10× the top of the metric's physical range: far outside it, as the error value a logger writes on a failed sensor read. */
const SPIKE_FACTOR = 10;
const HOUR = 3_600_000;
const HOUSEKEEPING = new Set(['battery_v', 'rssi']);

function primaryMetric(m: Values): MetricName | undefined {
  for (const k of Object.keys(m)) if (!HOUSEKEEPING.has(k) && isMetric(k)) return k;
  return undefined;
}

/** mulberry32 over (seed, key, n): one draw in [0, 1), so spikes fall on the same readings every run. */
function draw(seed: number, key: string, n: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  let a = (h ^ Math.imul(seed, 0x9e3779b9) ^ Math.imul(n | 0, 0x85ebca6b)) >>> 0;
  a = (a + 0x6d2b79f5) >>> 0;
  let t = Math.imul(a ^ (a >>> 15), 1 | a);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

type Step = (messages: SimMessage[], n: number) => SimMessage[];

/** A value fault as a function of one reading: n counts readings from 0. */
function valueStep(f: Fault, seed: number, key: string): Step {
  let frozen: number | undefined;
  let onsetTs: number | undefined;
  const touch = (r: SimReading, n: number): SimReading => {
    if (n < f.after) return r;
    if (f.kind === 'clock-skew') return { ...r, ts: r.ts + f.skewMs };
    const metric = f.metric as MetricName | undefined ?? primaryMetric(r.m);
    const v = metric === undefined ? undefined : r.m[metric];
    if (metric === undefined || v === undefined) return r;
    const { min, max } = METRICS[metric];
    let value = v;
    if (f.kind === 'stuck') value = frozen ??= v;
    else if (f.kind === 'spike') {
      if (n === f.after || draw(seed, key + '/spike', n) < f.rate) value = max * SPIKE_FACTOR;
    } else if (f.kind === 'drift') {
      onsetTs ??= r.ts;
      value = v + (f.perHour ?? -(max - min) / 10) * ((r.ts - onsetTs) / HOUR);
    }
    return { ...r, m: { ...r.m, [metric]: Math.round(value * 1000) / 1000 } };
  };
  return (messages, n) => messages.map((msg) => (Array.isArray(msg) ? msg.map((r) => touch(r, n)) : touch(msg, n)));
}

/** A delivery fault: what goes on the wire for this reading's messages. */
function deliveryStep(f: Fault): Step {
  let held: SimReading[] = [];
  let late: SimMessage[] | undefined;
  return (messages, n) => {
    if (n < f.after) return messages;
    switch (f.kind) {
      case 'gap':
        // a dead sensor behind a live modem: nothing is read, nothing is kept
        return f.readings === undefined || n < f.after + f.readings ? [] : messages;
      case 'duplicate':
        // the logger resends what it already sent (lost PUBACK, a retry loop): same ts, same seq
        return messages.flatMap((m) => [m, m]);
      case 'out-of-order': {
        // readings arrive in swapped pairs: every other one is held and sent after the next
        if (late === undefined && (n - f.after) % 2 === 0) {
          late = messages;
          return [];
        }
        const out = [...messages, ...(late ?? [])];
        late = undefined;
        return out;
      }
      case 'store-and-forward': {
        // the link is down for `readings` readings (default 20), then the backlog goes as arrays
        const outage = f.readings ?? 20;
        if (n < f.after + outage) {
          for (const m of messages) held.push(...(Array.isArray(m) ? m : [m]));
          return [];
        }
        if (held.length === 0) return messages;
        const backlog = held;
        held = [];
        const chunks: SimMessage[] = [];
        // as device.ts flushes its own buffer: arrays no longer than the contract allows
        for (let i = 0; i < backlog.length; i += MAX_READINGS_PER_MESSAGE) chunks.push(backlog.slice(i, i + MAX_READINGS_PER_MESSAGE));
        return [...chunks, ...messages];
      }
      default:
        return messages;
    }
  };
}

const VALUE_FAULTS = new Set<FaultKind>(['stuck', 'spike', 'drift', 'clock-skew']);

/**
 * The faults of one device as one transform: each reading the device takes goes in, the messages
 * to publish now come out (none while a fault holds it back). Value faults apply first, in the
 * order given, then delivery faults. `key` (the device id) and `seed` pick the spikes.
 */
export function faultPipeline(specs: readonly FaultSpec[], seed: number, key: string): (reading: SimReading) => SimMessage[] {
  const faults = specs.map((s) => faultSpec.parse(s));
  const steps = [
    ...faults.filter((f) => VALUE_FAULTS.has(f.kind)).map((f) => valueStep(f, seed, key)),
    ...faults.filter((f) => !VALUE_FAULTS.has(f.kind)).map((f) => deliveryStep(f)),
  ];
  let n = 0;
  return (reading) => {
    let messages: SimMessage[] = [reading];
    for (const step of steps) messages = step(messages, n);
    n++;
    return messages;
  };
}
