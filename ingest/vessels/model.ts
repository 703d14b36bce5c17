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

export interface VesselInfo {
  vesselId: string;
  registered: boolean;
  mmsi?: number;
  name?: string;
  callsign?: string;
  imo?: number;
  shiptype?: number;
  lengthM?: number;
  homePort?: string;
  licensedZone?: string;
}

export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
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
