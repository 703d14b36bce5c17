import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryVesselTrackStore } from '../ingest/vessels/memory-tracks.ts';
import type { VesselPosition, VesselTrackStore } from './types.ts';
import { openDuckDbVesselTracks } from './vessel-tracks.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const fix = (vesselId: string, ts: number, extra: Partial<VesselPosition> = {}): VesselPosition => ({ vesselId, ts, lat: 17 + ts / 1e6, lon: 108, source: 'vms', ...extra });

const adapters: Array<[string, () => Promise<VesselTrackStore>]> = [
  ['memory', async () => new MemoryVesselTrackStore()],
  ['duckdb file', async () => {
    const d = await mkdtemp(join(tmpdir(), 'hw-vessels-'));
    dirs.push(d);
    return openDuckDbVesselTracks(join(d, 'vessels.duckdb'));
  }],
];

describe.each(adapters)('VesselTrackStore (%s)', (_name, open) => {
  it('stores fixes once, returns a track in time order within [from, to), and the newest fix per vessel', async () => {
    const s = await open();
    await s.append([fix('A', 3000), fix('A', 1000, { sog: 4.5, cog: 90, mmsi: 574001230 }), fix('B', 500), fix('A', 2000, { source: 'ais', heading: 12 })]);
    await s.append([fix('A', 1000, { sog: 4.5, cog: 90, mmsi: 574001230 })]); // redelivery
    expect(await s.count()).toBe(4);
    const t = await s.track('A', 1000, 3000);
    expect(t.map((p) => p.ts)).toEqual([1000, 2000]);
    expect(t[0]).toEqual(fix('A', 1000, { sog: 4.5, cog: 90, mmsi: 574001230 }));
    expect(t[1]).toMatchObject({ source: 'ais', heading: 12 });
    expect((await s.latestAll()).map((p) => [p.vesselId, p.ts]).sort()).toEqual([['A', 3000], ['B', 500]]);
    await s.close();
  });
});
