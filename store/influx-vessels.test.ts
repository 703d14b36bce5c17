import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { tempDir, waitFor } from '../test/helpers.ts';
import { vesselLines, withInfluxCopy } from './influx-vessels.ts';
import { freePort, influxql, startInfluxd, startV2WriteShim, type RestartableServer, type WriteShim } from './test-servers.ts';
import { openDuckDbVesselTracks } from './vessel-tracks.ts';
import type { VesselPosition } from './types.ts';

const fix = (vesselId: string, ts: number, extra: Partial<VesselPosition> = {}): VesselPosition => ({ vesselId, ts, lat: 16.61, lon: 107.72, sog: 6.5, cog: 41, source: 'vms', ...extra });

describe('vessel positions copied to InfluxDB', () => {
  let influxd: RestartableServer;
  let shim: WriteShim;
  let data: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    influxd = await startInfluxd();
    shim = await startV2WriteShim(influxd.url); // TEST ADAPTER: influxd 1.6.7 has no /api/v2/write
    await influxql(influxd.url, 'CREATE DATABASE "vessels"');
    data = await tempDir('huewatch-vessel-influx-');
  }, 60_000);
  afterAll(async () => {
    await shim?.stop();
    await influxd?.stop();
    await data?.cleanup();
  });

  it('writes measurement vessel, tagged by vessel and source, with the fields it knows', () => {
    expect(vesselLines([fix('TTH 90123,TS', 1_700_000_000_000, { heading: undefined })])).toEqual([
      'vessel,source=vms,vessel=TTH\\ 90123\\,TS lat=16.61,lon=107.72,sog=6.5,cog=41 1700000000000',
    ]);
  });

  it('keeps the tracks file as the record and copies each position to InfluxDB', async () => {
    const tracks = withInfluxCopy(await openDuckDbVesselTracks(join(data.dir, 'a.duckdb')), { url: shim.url, org: 'huewatch', bucket: 'vessels' }, silentLogger());
    const now = Date.now();
    await tracks.append([fix('TTH-90123-TS', now - 2000), fix('TTH-90123-TS', now - 1000, { lat: 16.62 })]);
    expect(await tracks.count()).toBe(2);
    await waitFor(async () => {
      const body = await influxql(influxd.url, 'SELECT last("lat") AS "lat", last("lon") AS "lon" FROM "vessel" WHERE time > now() - 1h GROUP BY "vessel"', { db: 'vessels' });
      return body.results?.[0]?.series?.[0]?.values?.[0]?.[1] === 16.62;
    }, 10_000, 'the newest position in InfluxDB');
    await tracks.close();
  });

  it('still stores positions when InfluxDB cannot be reached, and counts the lost copies', async () => {
    const metrics = new Registry();
    const tracks = withInfluxCopy(await openDuckDbVesselTracks(join(data.dir, 'b.duckdb')), { url: `http://127.0.0.1:${await freePort()}`, org: 'huewatch', bucket: 'vessels' }, silentLogger(), metrics);
    await tracks.append([fix('TTH-90789-TS', Date.now())]);
    expect(await tracks.count()).toBe(1);
    await waitFor(async () => (await metrics.getSingleMetricAsString('huewatch_vessel_influx_lines_lost_total')).includes('huewatch_vessel_influx_lines_lost_total 1'), 15_000, 'the lost copy counted');
    await tracks.close();
  });
});
