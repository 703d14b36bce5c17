/**
 * Vessel figures (not pass/fail), every loop bounded: `node --import tsx bench/vessels.ts`.
 * 1. AIS sentences decoded per second (framing, checksum, reassembly, payload decode), one core.
 * 2. Positions per second through the vessel ingest's handler (decode → track store → live map →
 *    the rules listener), in-memory store, no broker in the loop.
 * 3. Geofence checks per second: 5,000 vessels against the Huế zones (boundary, length-class zone,
 *    protected area, storm area), each check one fix through every rule kind.
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { topics } from '../contract/topics.ts';
import { encodeType1, encodeType5, toSentences } from '../firmware-sim/ais-encode.ts';
import { STORM_AREA } from '../firmware-sim/vessel-voyages.ts';
import { AisDecoder } from '../ingest/ais/decoder.ts';
import { parseVesselRegistry } from '../ingest/vessels/registry.ts';
import { createVesselIngest } from '../ingest/vessels/service.ts';
import { silentLogger } from '../lib/log.ts';
import { createVesselRules } from '../rules/vessels/evaluator.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { print } from './report.ts';

const zones = loadSeaZones(fileURLToPath(new URL('../config/hue-sea-zones.geojson', import.meta.url)));

/** Deterministic pseudo-random positions over the province's sea (coast to beyond the boundary). */
function* positions(n: number, seed = 7) {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < n; i++) yield { lon: 107.3 + rnd() * 1.4, lat: 16.3 + rnd() * 1.3, sog: rnd() * 10, cog: rnd() * 359 };
}

function benchDecode() {
  const lines: string[] = [];
  let i = 0;
  for (const p of positions(2_000)) {
    lines.push(...toSentences(encodeType1({ mmsi: 574000000 + i, ...p })));
    if (i % 10 === 0) lines.push(...toSentences(encodeType5({ mmsi: 574000000 + i, name: `TAU ${i}`, lengthM: 16 }), { seqId: i % 10 }));
    i++;
  }
  const text = lines.join('\r\n');
  const d = new AisDecoder();
  d.feed(text, 0); // warm up
  const ROUNDS = 50;
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) d.feed(text, r);
  const s = (performance.now() - t0) / 1000;
  print('AIS sentences decoded (one core)', (lines.length * ROUNDS) / s, 'sentences/s');
}

async function benchIngest() {
  const registry = parseVesselRegistry('version: 1\nvessels: []\n', []);
  const metrics = new Registry();
  let now = Date.parse('2026-09-20T00:00:00Z');
  const ingest = createVesselIngest({ mqtt: undefined as never, registry, log: silentLogger(), metrics, clock: { now: () => now } });
  const rules = createVesselRules({ zones, registry, clock: { now: () => now } });
  let seen = 0;
  ingest.events.on('position', (p) => (seen++, rules.onPosition(p)));
  // one receiver message = 20 lines, as a shore receiver batches them
  const batches: Buffer[] = [];
  let batch: string[] = [];
  let i = 0;
  for (const p of positions(20_000, 11)) {
    batch.push(...toSentences(encodeType1({ mmsi: 574100000 + (i++ % 2_000), ...p })));
    if (batch.length === 20) (batches.push(Buffer.from(batch.join('\r\n'))), (batch = []));
  }
  const topic = topics.ais('bench-rx');
  const t0 = performance.now();
  for (const b of batches) {
    now += 1000;
    await ingest.handle(topic, b);
  }
  const s = (performance.now() - t0) / 1000;
  print('positions through vessel ingest + rules (memory store)', 20_000 / s, 'positions/s');
  if (seen !== 20_000) throw new Error(`expected 20000 positions, saw ${seen}`);
}

function benchGeofence() {
  const registry = parseVesselRegistry('version: 1\nvessels: []\n', []);
  let now = Date.parse('2026-09-20T00:00:00Z');
  const rules = createVesselRules({ zones, registry, clock: { now: () => now }, lengthOf: (id) => 8 + (Number(id.slice(5)) % 20) });
  rules.declareStorm({ ...STORM_AREA, validFrom: now, validTo: now + 86_400_000 });
  const VESSELS = 5_000;
  const ROUNDS = 6;
  // each vessel starts somewhere at sea and moves ~1 km a minute: transitions are rare, as at sea
  const fleet = [...positions(VESSELS, 3)];
  let alerts = 0;
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    now += 60_000;
    for (let v = 0; v < VESSELS; v++) {
      const p = fleet[v]!;
      p.lon += Math.sin(p.cog) * 0.007;
      p.lat += Math.cos(p.cog) * 0.007;
      alerts += rules.onPosition({ vesselId: `mmsi-${v}`, ts: now, lat: p.lat, lon: p.lon, sog: p.sog, source: 'ais' }).length;
    }
  }
  const s = (performance.now() - t0) / 1000;
  print(`geofence checks, ${VESSELS} vessels x ${ROUNDS} fixes (all kinds)`, (VESSELS * ROUNDS) / s, 'checks/s');
  print('  alert events produced (first fixes raise, then few)', alerts, 'events');
}

benchDecode();
await benchIngest();
benchGeofence();
