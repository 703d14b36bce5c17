import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contract/alert.ts';
import { AisDecoder } from '../ingest/ais/decoder.ts';
import { toVesselData } from '../ingest/ais/vessel.ts';
import { loadVesselRegistry } from '../ingest/vessels/registry.ts';
import { createVesselRules } from '../rules/vessels/evaluator.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { aisLinesAt } from './fleet-vessels.ts';
import { planVoyages, STORM_AREA, voyageAt } from './vessel-voyages.ts';

const cfg = (f: string) => fileURLToPath(new URL(`../config/${f}`, import.meta.url));
const zones = loadSeaZones(cfg('hue-sea-zones.geojson'));
const registry = loadVesselRegistry(cfg('vessels.yaml'), zones.ports.map((p) => p.id));
const T0 = Date.parse('2026-09-20T00:00:00Z');

describe('simulated fleet through the AIS decoder and the vessel rules (30 simulated hours)', () => {
  it('leaves port, fishes and returns; one goes dark, one crosses the boundary, several sit in the storm area', () => {
    const voyages = planVoyages(registry.vessels, zones.ports);
    expect(new Set(voyages.map((v) => v.port.lat))).toHaveProperty('size', 2); // Thuận An and Tư Hiền
    let now = T0;
    const rules = createVesselRules({ zones, registry, clock: { now: () => now } });
    rules.declareStorm({ ...STORM_AREA, validFrom: T0, validTo: T0 + 48 * 3_600_000 });
    const decoder = new AisDecoder();
    const events: AlertEvent[] = [];
    const stormLists: string[][] = [];
    const STEP_S = 600;
    for (let s = 0, round = 0; s <= 30 * 3600; s += STEP_S, round++) {
      now = T0 + s * 1000;
      for (const d of decoder.feed(aisLinesAt(voyages, s, round).join('\r\n'), now)) {
        const p = toVesselData(d, now).position;
        if (!p) continue;
        const evs = rules.onPosition({ vesselId: registry.idForMmsi(p.mmsi), mmsi: p.mmsi, ts: p.ts, lat: p.lat, lon: p.lon, sog: p.sog, cog: p.cog, source: 'ais' });
        events.push(...evs);
      }
      events.push(...rules.tick(now));
      const list = rules.stormVessels(STORM_AREA.id);
      if (list && JSON.stringify(list) !== JSON.stringify(stormLists.at(-1))) stormLists.push([...list]);
    }
    expect(Object.values(decoder.counts.dropped).every((n) => n === 0)).toBe(true);
    const byKey = (prefix: string) => events.filter((e) => e.key.startsWith(prefix));
    const dark = voyages.find((v) => v.role === 'goes-dark')!.vessel.id;
    const crosser = voyages.find((v) => v.role === 'crosses-boundary')!.vessel.id;
    const inStorm = voyages.filter((v) => v.role === 'in-storm').map((v) => v.vessel.id).sort();

    expect(byKey('vessel-iuu:').map((e) => [e.key, e.msgType])).toEqual([[`vessel-iuu:${crosser}`, 'Alert'], [`vessel-iuu:${crosser}`, 'Cancel']]);
    expect(byKey('vessel-signal:').map((e) => [e.key, e.level])).toEqual([[`vessel-signal:${dark}`, 1]]);
    expect(byKey('vessel-zone:')).toEqual([]); // everyone fishes where licensed
    expect(stormLists.some((l) => inStorm.every((v) => l.includes(v)))).toBe(true);
    // the others are home; the dark vessel went silent inside the area and stays listed there
    expect(stormLists.at(-1)).toEqual([dark]);
    const storm = byKey('storm-area:');
    expect(storm[0]?.msgType).toBe('Alert');
    expect(storm.slice(1).every((e) => e.msgType === 'Update')).toBe(true);
    expect(storm.at(-1)?.description.en).toBe(`Vessels inside: ${dark}.`);
    // everyone who does not go dark is back in port after 30 h
    for (const v of voyages) if (v.role !== 'goes-dark') expect(voyageAt(v, 30 * 3600).phase).toBe('in-port');
  });
});
