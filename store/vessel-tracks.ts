import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BIGINT, DOUBLE, INTEGER, VARCHAR, DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { VesselPosition, VesselTrackStore } from './types.ts';
import { SerialQueue } from './serial-queue.ts';

/**
 * Vessel tracks in DuckDB (measurement `vessel`: the vessel id is the identity, positions are
 * fields). Its own table `vessel_positions`, in the platform's file or its own; one serial queue
 * per connection (a DuckDB connection must not run two statements at once, see serial-queue.ts).
 * Idempotent on (vessel_id, ts, source). Kept 36 months by regulation (vn-standards.json
 * track_retention_months): `prune(before)` is the lead's to schedule.
 */

const COLS = 'vessel_id, ts, source, mmsi, lat, lon, sog, cog, heading';
const TYPES = [VARCHAR, BIGINT, VARCHAR, INTEGER, DOUBLE, DOUBLE, DOUBLE, DOUBLE, INTEGER];

export async function openDuckDbVesselTracks(file: string): Promise<DuckDbVesselTracks> {
  if (file !== ':memory:') await mkdir(dirname(file), { recursive: true });
  const instance = await DuckDBInstance.create(file);
  const writer = await instance.connect();
  const reader = await instance.connect();
  await writer.run(`CREATE TABLE IF NOT EXISTS vessel_positions (
    vessel_id VARCHAR NOT NULL, ts BIGINT NOT NULL, source VARCHAR NOT NULL, mmsi INTEGER,
    lat DOUBLE NOT NULL, lon DOUBLE NOT NULL, sog DOUBLE, cog DOUBLE, heading INTEGER,
    PRIMARY KEY (vessel_id, ts, source))`);
  return new DuckDbVesselTracks(instance, writer, reader);
}

export class DuckDbVesselTracks implements VesselTrackStore {
  private readonly writes = new SerialQueue(1000);
  private readonly reads = new SerialQueue(1000);
  private closed = false;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
  ) {}

  async append(rows: readonly VesselPosition[]): Promise<void> {
    if (rows.length === 0) return;
    await this.writes.run(async () => {
      // One multi-row INSERT per 500 rows: fewer round trips than one statement a row.
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        const values: unknown[] = [];
        const types = [];
        for (const p of chunk) {
          values.push(p.vesselId, BigInt(p.ts), p.source, p.mmsi ?? null, p.lat, p.lon, p.sog ?? null, p.cog ?? null, p.heading ?? null);
          types.push(...TYPES);
        }
        const ph = chunk.map((_, r) => `(${TYPES.map((_, c) => `$${r * TYPES.length + c + 1}`).join(', ')})`).join(', ');
        await this.writer.run(`INSERT INTO vessel_positions (${COLS}) VALUES ${ph} ON CONFLICT DO NOTHING`, values as never, types);
      }
    });
  }

  private async query(sql: string, params: unknown[], types: unknown[]): Promise<VesselPosition[]> {
    const rows = await this.reads.run(async () => (await this.reader.runAndReadAll(sql, params as never, types as never)).getRowObjectsJS());
    return rows.map((r) => {
      const p: VesselPosition = { vesselId: String(r.vessel_id), ts: Number(r.ts), source: r.source as 'ais' | 'vms', lat: Number(r.lat), lon: Number(r.lon) };
      if (r.mmsi !== null) p.mmsi = Number(r.mmsi);
      if (r.sog !== null) p.sog = Number(r.sog);
      if (r.cog !== null) p.cog = Number(r.cog);
      if (r.heading !== null) p.heading = Number(r.heading);
      return p;
    });
  }

  track(vesselId: string, from: number, to: number, limit = 100_000): Promise<VesselPosition[]> {
    return this.query(`SELECT ${COLS} FROM vessel_positions WHERE vessel_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, source LIMIT $4`,
      [vesselId, BigInt(from), BigInt(to), limit], [VARCHAR, BIGINT, BIGINT, INTEGER]);
  }

  latestAll(): Promise<VesselPosition[]> {
    return this.query(`SELECT ${COLS} FROM vessel_positions QUALIFY row_number() OVER (PARTITION BY vessel_id ORDER BY ts DESC) = 1`, [], []);
  }

  async count(): Promise<number> {
    const rows = await this.reads.run(async () => (await this.reader.runAndReadAll('SELECT count(*) AS n FROM vessel_positions')).getRowObjectsJS());
    return Number(rows[0]?.n ?? 0);
  }

  async prune(before: number): Promise<void> {
    await this.writes.run(() => this.writer.run('DELETE FROM vessel_positions WHERE ts < $1', [BigInt(before)], [BIGINT]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.run(async () => undefined);
    await this.reads.run(async () => undefined);
    this.reader.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
  }
}
