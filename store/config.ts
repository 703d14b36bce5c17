import { z } from 'zod';

/**
 * The environment variables of the readings store: which store, InfluxDB's address, the on-disk
 * spool, retention and downsampling. Part of the platform's configuration (platform/config.ts
 * spreads this shape), declared here so that store/ depends on nothing above it.
 */
export const storeConfigSchema = z.object({
  /** where readings go; platform state (devices, alerts) always stays in the embedded DuckDB file */
  STORE: z.enum(['embedded', 'influx']).default('embedded'),
  /** InfluxDB base URL (STORE=influx), e.g. http://influxdb:8086 */
  INFLUX_URL: z.url().optional(),
  /** API token (InfluxDB 2/3); empty for InfluxDB 1.x without auth */
  INFLUX_TOKEN: z.string().optional(),
  INFLUX_ORG: z.string().min(1).default('huewatch'),
  INFLUX_BUCKET: z.string().min(1).default('huewatch'),
  /** InfluxQL database of the bucket's DBRP mapping (default: the bucket name) */
  INFLUX_DATABASE: z.string().min(1).optional(),
  /** InfluxQL retention policy of the raw data (default: the database's default policy) */
  INFLUX_RETENTION_POLICY: z.string().min(1).optional(),
  /** readings the on-disk spool (DATA_DIR/spool.duckdb) holds while the store is down; past it ingest stops acknowledging */
  SPOOL_MAX_ROWS: z.coerce.number().int().positive().default(5_000_000),
  /** a store write slower than this is spooled instead */
  SPOOL_WRITE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** raw readings are kept this many days, hourly aggregates HOURLY days, daily aggregates DAILY days */
  RETENTION_RAW_DAYS: z.coerce.number().int().positive().default(90),
  RETENTION_HOURLY_DAYS: z.coerce.number().int().positive().default(730),
  RETENTION_DAILY_DAYS: z.coerce.number().int().positive().default(36_500),
  /** how often the downsampling and retention job runs */
  DOWNSAMPLE_INTERVAL_MS: z.coerce.number().int().min(1000).default(15 * 60_000),
});
export type StoreConfig = z.output<typeof storeConfigSchema>;
