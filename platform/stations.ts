/** The station catalogue where the platform's tests and parts have always found it: lib/stations.ts. */
export { DEFAULT_STATIONS_FILE, loadStations, StationFileError } from '../lib/stations.ts';
export { stationKind, type Station, type StationKind } from '../contract/station.ts';
