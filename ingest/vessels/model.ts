// VesselPosition and VesselTrackStore (the position record and its storage seam) are in store/types.ts.

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
