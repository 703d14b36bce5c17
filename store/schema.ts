import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreError, StoreErrorCode } from './serial-queue.ts';

/**
 * The embedded store's schema, as an ordered list of migrations. Migration N brings a file from
 * version N-1 to N inside one transaction, and `schema_version` records each one applied, so a file
 * is upgraded in place on open and a half-applied migration never sticks. Append new migrations;
 * never edit one that has shipped.
 *
 * Times are BIGINT epoch milliseconds everywhere: the API speaks epoch ms, bucket arithmetic on
 * integers is exact and has no session time zone in it (time_bucket on TIMESTAMPTZ buckets days in
 * the session TimeZone, and its default origin is 2000-01-03, not the Unix epoch).
 *
 * No secondary indexes: DuckDB's ART indexes make UPDATE of indexed rows a delete+insert with
 * over-eager constraint checks, and its per-row-group min/max zonemaps already prune scans on
 * (station, metric, ts) ranges. The primary keys are there for ON CONFLICT, not for speed.
 */
export const MIGRATIONS: readonly (readonly string[])[] = [
  // v1
  [
    `CREATE TABLE readings (
       station VARCHAR NOT NULL,
       metric  VARCHAR NOT NULL,
       ts      BIGINT  NOT NULL, -- observation time, epoch ms UTC
       value   DOUBLE  NOT NULL,
       device  VARCHAR NOT NULL,
       seq     BIGINT,
       quality VARCHAR NOT NULL,
       PRIMARY KEY (station, metric, ts)
     )`,
    `CREATE TABLE devices (
       device_id   VARCHAR PRIMARY KEY,
       station     VARCHAR NOT NULL,
       secret_hash VARCHAR NOT NULL,
       created_at  BIGINT  NOT NULL,
       disabled    BOOLEAN NOT NULL
     )`,
    `CREATE TABLE alerts (
       id         VARCHAR PRIMARY KEY,
       key        VARCHAR NOT NULL,
       status     VARCHAR NOT NULL,
       event_seq  INTEGER NOT NULL,
       latest     JSON    NOT NULL, -- the alert's current shape: its highest-eventSeq event
       updated_at BIGINT  NOT NULL  -- epoch ms of latest.sent
     )`,
    `CREATE TABLE alert_events (
       id        VARCHAR NOT NULL,
       event_seq INTEGER NOT NULL,
       event     JSON    NOT NULL,
       cause     JSON,             -- what made the rules engine emit it (observation, rule state)
       recorded_at BIGINT NOT NULL, -- epoch ms the store recorded it
       PRIMARY KEY (id, event_seq)
     )`,
    `CREATE TABLE kv (
       namespace  VARCHAR NOT NULL,
       key        VARCHAR NOT NULL,
       value      JSON    NOT NULL,
       updated_at BIGINT  NOT NULL,
       PRIMARY KEY (namespace, key)
     )`,
  ],
  // v2: hourly and daily aggregates kept by downsample() (store/README.md "Retention")
  ['1h', '1d'].map((res) =>
    `CREATE TABLE readings_${res} (
       station VARCHAR NOT NULL,
       metric  VARCHAR NOT NULL,
       ts      BIGINT  NOT NULL, -- bucket start, epoch ms UTC, aligned to the Unix epoch
       min     DOUBLE  NOT NULL,
       max     DOUBLE  NOT NULL,
       sum     DOUBLE  NOT NULL,
       count   BIGINT  NOT NULL, -- mean = sum / count, also across several buckets
       last    DOUBLE  NOT NULL, -- value of the latest reading in the bucket
       last_ts BIGINT  NOT NULL, -- its time, so last() over several buckets stays by time
       PRIMARY KEY (station, metric, ts)
     )`),
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file to SCHEMA_VERSION; returns the version it found. */
export async function migrate(conn: DuckDBConnection, now: number): Promise<number> {
  await conn.run(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
  const found = Number((await conn.runAndReadAll(`SELECT coalesce(max(version), 0) FROM schema_version`)).getRows()[0]?.[0] ?? 0);
  if (found > SCHEMA_VERSION) {
    throw new StoreError(StoreErrorCode.SCHEMA_NEWER, `database schema is version ${found}, this build knows up to ${SCHEMA_VERSION}`);
  }
  for (let v = found + 1; v <= SCHEMA_VERSION; v++) {
    await conn.run('BEGIN TRANSACTION');
    try {
      for (const sql of MIGRATIONS[v - 1] ?? []) await conn.run(sql);
      await conn.run(`INSERT INTO schema_version VALUES ($1, $2)`, [v, now]);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK');
      throw err;
    }
  }
  return found;
}
