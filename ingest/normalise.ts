import { METRICS, qualityOf, type MetricName } from '../contract/metrics.ts';
import type { Observation } from '../contract/obs.ts';
import type { Reading } from '../contract/telemetry.ts';
import type { StoredReading } from '../store/types.ts';

/**
 * Pure step between decoding and storage: one decoded reading of a device becomes stored rows
 * (one per metric, with a quality flag from the catalogue's physical range) and one observation
 * for the obs topic. Out-of-range values are kept and flagged, never dropped (DESIGN.md).
 * NaN and ±Infinity are not measurements (no physical range holds them, and `qualityOf` would call
 * them ok): they are left out, here as a last line behind the decoders (contract/telemetry.ts
 * refuses them; the Modbus poller drops and counts them per register). `receivedAt` (ingest's
 * clock) goes on the observation: the rules tell a current reading from a late one by it.
 */
export function normaliseReading(reading: Reading, device: string, station: string, receivedAt?: number): { rows: StoredReading[]; obs: Observation } {
  const rows: StoredReading[] = [];
  const values: Observation['values'] = [];
  for (const [name, value] of Object.entries(reading.values) as Array<[MetricName, number]>) {
    if (!Number.isFinite(value)) continue;
    const quality = qualityOf(name, value);
    rows.push({ station, device, metric: name, ts: reading.ts, value, quality, ...(reading.seq === undefined ? {} : { seq: reading.seq }) });
    values.push({ metric: name, value, unit: METRICS[name].unit, quality });
  }
  const obs: Observation = {
    station, device, ts: reading.ts, values,
    ...(receivedAt === undefined ? {} : { receivedAt }),
    ...(reading.seq === undefined ? {} : { seq: reading.seq }),
  };
  return { rows, obs };
}
