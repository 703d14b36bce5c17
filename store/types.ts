import type { MetricName, Quality } from '../contract/metrics.ts';
import type { AlertEvent } from '../contract/alert.ts';

/**
 * The storage seams. `TimeSeriesStore` is implemented by the embedded store (DuckDB) and, later, the
 * InfluxDB adapter; one contract test suite runs against every adapter. `StateStore` holds the
 * platform's own state (devices, alerts and their history, rule state) and is always the embedded
 * database, whichever time-series store is in use (DESIGN.md "Storage").
 */

export interface StoredReading {
  station: string;
  device: string;
  metric: MetricName;
  /** observation time, epoch ms */
  ts: number;
  value: number;
  seq?: number;
  quality: Quality;
}

export const AGGREGATES = ['mean', 'min', 'max', 'last', 'sum'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export interface SeriesQuery {
  station: string;
  metric: MetricName;
  /** inclusive, epoch ms */
  from: number;
  /** exclusive, epoch ms */
  to: number;
  /** bucket width in ms; absent = raw points */
  every?: number;
  /** aggregate per bucket; default mean */
  fn?: Aggregate;
  /**
   * What to read: `raw` readings (default), or the `1h` / `1d` aggregates kept by `downsample`
   * (then `every` must be a multiple of it, and a bucket counts when its start is in [from, to)).
   */
  resolution?: Resolution;
}

export const RESOLUTIONS = ['raw', '1h', '1d'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
export const RESOLUTION_MS = { '1h': 3_600_000, '1d': 86_400_000 } as const;

/** How long each resolution is kept, in ms (config RETENTION_*_DAYS). */
export interface RetentionPolicy {
  rawMs: number;
  hourlyMs: number;
  dailyMs: number;
}

export interface SeriesPoint {
  /** raw: observation time; aggregated: bucket start (buckets aligned to the Unix epoch, UTC) */
  ts: number;
  value: number;
}

export interface LatestValue {
  metric: MetricName;
  value: number;
  ts: number;
  quality: Quality;
  device: string;
}

export interface TimeSeriesStore {
  /** Idempotent: rewriting a reading with the same (station, metric, ts) keeps one row. */
  writeReadings(rows: readonly StoredReading[]): Promise<void>;
  series(q: SeriesQuery): Promise<SeriesPoint[]>;
  /** Latest value of every metric of a station (empty when none). */
  latest(station: string): Promise<LatestValue[]>;
  /** Total stored readings (for tests and /metrics). */
  count(filter?: { station?: string; metric?: MetricName }): Promise<number>;
  /**
   * Brings the hourly and daily aggregates up to date with the raw readings written since the last
   * call (all retained raw readings on the first call after open), then deletes what is older than
   * `retention` (whole days, so an aggregate bucket is never recomputed from partial raw data).
   */
  downsample(now: number, retention: RetentionPolicy): Promise<void>;
  close(): Promise<void>;
}

/** A stored reading's metric that carried the device's `seq` (ingest/seq-dedupe.ts warms from them). */
export interface SequencedRow {
  device: string;
  seq: number;
  ts: number;
  metric: MetricName;
  value: number;
}

/** A store that can list what devices sent with a seq: ingest's duplicate check survives a restart. */
export interface SequencedReadings {
  /**
   * Rows with a seq and ts ≥ `from`, in no particular order; at most `limit`, the newest (the
   * check remembers a bounded number anyway: reading more at start only costs time).
   */
  sequencedSince(from: number, limit?: number): Promise<SequencedRow[]>;
}

export interface DeviceRecord {
  deviceId: string;
  station: string;
  /** scrypt hash of the device secret (broker/secrets.ts); the secret itself is never stored */
  secretHash: string;
  createdAt: number;
  disabled: boolean;
}

export interface StoredAlert {
  /** the latest event of the alert: its current shape */
  latest: AlertEvent;
}

export interface StateStore {
  // device registry
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  putDevice(rec: DeviceRecord): Promise<void>;
  /** forgets a device (no error when there is none) */
  deleteDevice(deviceId: string): Promise<void>;
  listDevices(): Promise<DeviceRecord[]>;

  // alerts: every event is appended to the history and becomes the alert's current shape
  appendAlertEvent(event: AlertEvent, cause?: unknown): Promise<void>;
  getAlert(id: string): Promise<AlertEvent | undefined>;
  alertHistory(id: string): Promise<Array<{ event: AlertEvent; cause: unknown }>>;
  listAlerts(filter?: { status?: AlertEvent['status'][] }): Promise<AlertEvent[]>;

  // small JSON documents (rule state per key, service bookkeeping)
  getJson<T>(namespace: string, key: string): Promise<T | undefined>;
  putJson(namespace: string, key: string, value: unknown): Promise<void>;
  deleteJson(namespace: string, key: string): Promise<void>;
  /** Puts (with `value`) and deletes (without) in one transaction; a key's last change wins. */
  writeJsonBatch(namespace: string, changes: ReadonlyArray<{ key: string; value?: unknown }>): Promise<void>;
  listJson<T>(namespace: string): Promise<Array<{ key: string; value: T }>>;

  close(): Promise<void>;
}

/**
 * What the platform knows about a vessel: its latest position (AIS or VMS) and its static data.
 * Measurement `vessel` (DESIGN.md "Storage"): the vessel id is the identity; positions, speed and
 * course are fields, never tags.
 */
export interface VesselPosition {
  /** registration (`TTH-90123-TS`) or `mmsi-{mmsi}` for a vessel not in the register */
  vesselId: string;
  mmsi?: number;
  /** fix time, epoch ms */
  ts: number;
  lat: number;
  lon: number;
  /** knots */
  sog?: number;
  /** degrees true */
  cog?: number;
  heading?: number;
  source: 'ais' | 'vms';
}

/**
 * Where vessel positions are kept. `latest*` answer from memory (the live map); `track` reads the
 * stored history. Implemented in memory (ingest/vessels/memory-tracks.ts) and in DuckDB
 * (store/vessel-tracks.ts). Idempotent: the same (vesselId, ts, source) is kept once.
 */
export interface VesselTrackStore {
  append(rows: readonly VesselPosition[]): Promise<void>;
  /** fixes with from ≤ ts < to, oldest first, at most `limit` */
  track(vesselId: string, from: number, to: number, limit?: number): Promise<VesselPosition[]>;
  /** newest stored fix of every vessel (to warm the live map at start) */
  latestAll(): Promise<VesselPosition[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}
