import type { VesselPosition, VesselTrackStore } from '../../store/types.ts';

/** In-memory `VesselTrackStore`, bounded per vessel: for tests, the simulator and a store-less run. */
export class MemoryVesselTrackStore implements VesselTrackStore {
  private readonly tracks = new Map<string, VesselPosition[]>();
  private readonly keys = new Map<string, Set<string>>();
  constructor(private readonly maxPerVessel = 10_000) {}

  async append(rows: readonly VesselPosition[]): Promise<void> {
    for (const p of rows) {
      let t = this.tracks.get(p.vesselId);
      if (!t) this.tracks.set(p.vesselId, (t = []));
      let k = this.keys.get(p.vesselId);
      if (!k) this.keys.set(p.vesselId, (k = new Set()));
      const key = `${p.ts}|${p.source}`;
      if (k.has(key)) continue;
      k.add(key);
      t.push(p);
      if (t.length > 1 && t[t.length - 2]!.ts > p.ts) t.sort((a, b) => a.ts - b.ts);
      if (t.length > this.maxPerVessel) for (const old of t.splice(0, t.length - this.maxPerVessel)) k.delete(`${old.ts}|${old.source}`);
    }
  }

  async track(vesselId: string, from: number, to: number, limit = 100_000): Promise<VesselPosition[]> {
    return (this.tracks.get(vesselId) ?? []).filter((p) => p.ts >= from && p.ts < to).slice(0, limit);
  }

  async latestAll(): Promise<VesselPosition[]> {
    return [...this.tracks.values()].map((t) => t[t.length - 1]!).filter(Boolean);
  }

  async count(): Promise<number> {
    let n = 0;
    for (const t of this.tracks.values()) n += t.length;
    return n;
  }

  async close(): Promise<void> {}
}
