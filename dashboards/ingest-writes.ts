import { METRIC_NAMES, METRICS } from '../contract/metrics.ts';
import { fieldKeys } from '../store/influx.ts';
import { vesselLines } from '../store/influx-vessels.ts';

/** measurement → the fields written to it */
export type WriteCatalogue = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * What the platform writes to InfluxDB, derived from the code that writes it rather than kept by
 * hand: each metric of contract/metrics.ts goes to its `measurement` (domain) with the field keys
 * the adapter gives it (`fieldKeys` of store/influx.ts: value, quality, device, seq), tag
 * `station`; vessel positions go to `vessel` (store/influx-vessels.ts, the rules process with
 * STORE=influx), read off a line it writes. A dashboard query may read only these.
 */
export function ingestWrites(): WriteCatalogue {
  const out = new Map<string, Set<string>>();
  for (const metric of METRIC_NAMES) {
    const m = METRICS[metric].measurement;
    let fields = out.get(m);
    if (!fields) out.set(m, (fields = new Set()));
    for (const f of Object.values(fieldKeys(metric))) fields.add(f);
  }
  out.set(VESSEL.measurement, new Set(VESSEL.fields));
  return out;
}

/** measurement, tags and fields of a vessel position as store/influx-vessels.ts writes it (every field known) */
const VESSEL = (() => {
  const [line] = vesselLines([{ vesselId: 'v', ts: 0, lat: 16.5, lon: 107.6, sog: 1, cog: 2, heading: 3, source: 'ais' }]);
  const [series, fieldSet] = line!.split(' ') as [string, string];
  const [measurement, ...tags] = series.split(',');
  return { measurement: measurement!, tags: tags.map((t) => t.split('=')[0]!), fields: fieldSet.split(',').map((f) => f.split('=')[0]!) };
})();

/** The tags of each measurement: `station` on every reading (store/README.md "Schema"), `vessel` and `source` on positions. */
export function writtenTags(measurement: string): readonly string[] {
  return measurement === VESSEL.measurement ? VESSEL.tags : ['station'];
}
