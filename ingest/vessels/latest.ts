import type { AisStatic } from '../ais/vessel.ts';
import type { VesselRegistry } from './registry.ts';
import type { BBox, VesselInfo } from './model.ts';
import type { VesselPosition } from '../../store/types.ts';

/**
 * The live map: the newest position and the static data of every vessel seen, in memory. A fix
 * older than the one held is ignored here (it still goes to the track store: late VMS batches).
 * Bounded: at most `maxVessels` vessels not in the register are kept (the stalest is dropped).
 */
export class LatestPositions {
  private readonly positions = new Map<string, VesselPosition>();
  private readonly statics = new Map<string, Omit<AisStatic, 'ts' | 'mmsi'>>();

  constructor(
    private readonly registry: VesselRegistry,
    private readonly maxVessels = 50_000,
  ) {}

  /** true when the fix is the vessel's newest */
  update(p: VesselPosition): boolean {
    const prev = this.positions.get(p.vesselId);
    if (prev && prev.ts >= p.ts) return false;
    if (!prev && this.positions.size >= this.maxVessels) this.evictStalest();
    this.positions.set(p.vesselId, p);
    return true;
  }

  updateStatic(vesselId: string, s: AisStatic): void {
    const { ts: _ts, mmsi: _mmsi, ...rest } = s;
    const clean = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    this.statics.set(vesselId, { ...this.statics.get(vesselId), ...clean });
  }

  private evictStalest(): void {
    let worst: VesselPosition | undefined;
    for (const p of this.positions.values()) if (!this.registry.byId(p.vesselId) && (!worst || p.ts < worst.ts)) worst = p;
    if (worst) {
      this.positions.delete(worst.vesselId);
      this.statics.delete(worst.vesselId);
    }
  }

  get(vesselId: string): VesselPosition | undefined {
    return this.positions.get(vesselId);
  }

  info(vesselId: string): VesselInfo | undefined {
    const reg = this.registry.byId(vesselId);
    const seen = this.statics.get(vesselId);
    const pos = this.positions.get(vesselId);
    if (!reg && !seen && !pos) return undefined;
    return {
      vesselId,
      registered: !!reg,
      ...(pos?.mmsi !== undefined ? { mmsi: pos.mmsi } : {}),
      ...seen,
      // the register is the authority on who a vessel is; AIS static data is what it says of itself
      ...(reg ? { mmsi: reg.mmsi, name: reg.name, lengthM: reg.lengthM, homePort: reg.homePort, licensedZone: reg.licensedZone } : {}),
    };
  }

  list(filter: { bbox?: BBox; since?: number } = {}): VesselPosition[] {
    const out: VesselPosition[] = [];
    const { bbox, since } = filter;
    for (const p of this.positions.values()) {
      if (since !== undefined && p.ts < since) continue;
      if (bbox && (p.lon < bbox.minLon || p.lon > bbox.maxLon || p.lat < bbox.minLat || p.lat > bbox.maxLat)) continue;
      out.push(p);
    }
    return out;
  }

  get size(): number {
    return this.positions.size;
  }
}
