import { METRIC_NAMES, METRICS } from '../contract/metrics.ts';
import { fieldKeys } from '../store/influx.ts';

/** measurement → the fields written to it */
export type WriteCatalogue = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * What ingest writes to InfluxDB, derived from the contract rather than kept by hand: each
 * metric of contract/metrics.ts goes to its `measurement` (domain) with the field keys the
 * adapter gives it (`fieldKeys` of store/influx.ts: value, quality, device, seq), tag `station`.
 * A dashboard query may read only these.
 */
export function ingestWrites(): WriteCatalogue {
  const out = new Map<string, Set<string>>();
  for (const metric of METRIC_NAMES) {
    const m = METRICS[metric].measurement;
    let fields = out.get(m);
    if (!fields) out.set(m, (fields = new Set()));
    for (const f of Object.values(fieldKeys(metric))) fields.add(f);
  }
  return out;
}

/** The one tag every measurement written by ingest carries (store/README.md "Schema"). */
export const INGEST_TAGS: readonly string[] = ['station'];

/**
 * Written by no one yet, and therefore outside the contract: the fisheries map reads vessel
 * positions from measurement `vessel` (DESIGN.md "Storage"), tag `vessel` (the vessel id), fields
 * as in store/types.ts `VesselPosition`. Ingest keeps positions in DuckDB today
 * (`VesselTrackStore`); once they are written to InfluxDB and the measurement joins the contract,
 * dashboards/dashboards.test.ts fails until this entry is removed.
 */
export const PENDING_WRITES: ReadonlyMap<string, { tags: readonly string[]; fields: ReadonlySet<string>; why: string }> = new Map([
  ['vessel', { tags: ['vessel'], fields: new Set(['lat', 'lon', 'sog', 'cog']), why: 'vessel positions are kept in DuckDB only (ingest/vessels), not yet written to InfluxDB' }],
]);
