import { InfluxDB } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { toLine } from './line-protocol.ts';
import type { VesselPosition, VesselTrackStore } from './types.ts';

/**
 * Vessel positions copied to InfluxDB as measurement `vessel` (DESIGN.md "Storage"), which the
 * Grafana fisheries dashboard reads: tag `vessel` (the vessel id) and `source` (ais|vms), fields
 * `lat`, `lon`, `sog`, `cog`, `heading` (those known). The tracks file (DuckDB) stays the record
 * the API and the rules read; this copy is for charts, so a failed write is logged and counted,
 * never retried into the vessel ingest's path, and at most MAX_PENDING_LINES wait for InfluxDB.
 */

/** lines waiting for InfluxDB; beyond it new positions are not copied (InfluxDB is down or slow) */
const MAX_PENDING_LINES = 50_000;

export function vesselLines(rows: readonly VesselPosition[]): string[] {
  return rows.map((p) => {
    const fields: Record<string, number> = { lat: p.lat, lon: p.lon };
    for (const k of ['sog', 'cog', 'heading'] as const) if (Number.isFinite(p[k])) fields[k] = p[k]!;
    return toLine({ measurement: 'vessel', tags: { vessel: p.vesselId, source: p.source }, fields, ts: p.ts });
  });
}

export interface InfluxTarget {
  url: string;
  token?: string | undefined;
  org: string;
  bucket: string;
}

/** `tracks`, whose appended positions are also written to InfluxDB (in the background). */
export function withInfluxCopy(tracks: VesselTrackStore, target: InfluxTarget, log: Logger, metrics?: Registry): VesselTrackStore {
  const api = new InfluxDB({ url: target.url, token: target.token ?? '', timeout: 10_000 }).getWriteApi(target.org, target.bucket, 'ms', {
    flushInterval: 0, // flushed per append below
    maxRetries: 0, // a lost copy is counted, not retried behind later positions
    batchSize: MAX_PENDING_LINES + 1,
  });
  const failed = metrics && ((metrics.getSingleMetric('huewatch_vessel_influx_lines_lost_total') as Counter | undefined) ?? new Counter({
    name: 'huewatch_vessel_influx_lines_lost_total', help: 'vessel positions not copied to InfluxDB (write failed or too many pending)', registers: [metrics],
  }));
  let pending = 0;
  let chain = Promise.resolve();
  const copy = (rows: readonly VesselPosition[]) => {
    if (pending + rows.length > MAX_PENDING_LINES) {
      failed?.inc(rows.length);
      return;
    }
    const lines = vesselLines(rows);
    pending += lines.length;
    chain = chain.then(async () => {
      try {
        api.writeRecords(lines);
        await api.flush();
      } catch (err) {
        failed?.inc(lines.length);
        log.warn({ err: String(err), lines: lines.length }, 'vessel positions not copied to InfluxDB');
      } finally {
        pending -= lines.length;
      }
    });
  };
  return {
    async append(rows) {
      await tracks.append(rows);
      if (rows.length > 0) copy(rows);
    },
    track: (id, from, to, limit) => tracks.track(id, from, to, limit),
    latestAll: () => tracks.latestAll(),
    count: () => tracks.count(),
    async close() {
      await chain;
      await api.close().catch(() => undefined);
      await tracks.close();
    },
  };
}
