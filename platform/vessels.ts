import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AlertEvent } from '../contract/alert.ts';
import { createVesselIngest } from '../ingest/vessels/service.ts';
import { loadVesselRegistry } from '../ingest/vessels/registry.ts';
import { publishEvent } from '../rules/alerts.ts';
import { createVesselRules } from '../rules/vessels/evaluator.ts';
import type { StormAreaInput } from '../rules/vessels/storm.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { openDuckDbVesselTracks } from '../store/vessel-tracks.ts';
import type { StateStore } from '../store/types.ts';

export const DEFAULT_VESSELS_FILE = new URL('../config/vessels.yaml', import.meta.url).pathname;
export const DEFAULT_SEA_ZONES_FILE = new URL('../config/hue-sea-zones.geojson', import.meta.url).pathname;
/** how often signal loss and storm validity are checked (the VMS ladder counts hours) */
const VESSEL_TICK_MS = 60_000;

/**
 * Fishing vessels in one process: AIS/VMS ingest (its own `ingest` connection), the tracks file,
 * and the geofence rules, whose alert events are stored and then published on the alerts topic
 * with the `rules` connection (only the rules account may publish alerts), one at a time in order.
 */
export async function startVessels(deps: {
  ingestMqtt: MqttClient;
  rulesMqtt: MqttClient;
  state: StateStore;
  tracksFile: string;
  vesselsFile?: string;
  log: Logger;
  metrics: Registry;
  clock: { now(): number };
}) {
  const log = deps.log.child({ module: 'vessels' });
  const zones = loadSeaZones(DEFAULT_SEA_ZONES_FILE);
  const registry = loadVesselRegistry(deps.vesselsFile ?? DEFAULT_VESSELS_FILE, zones.ports.map((p) => p.id));
  const tracks = await openDuckDbVesselTracks(deps.tracksFile);
  const ingest = createVesselIngest({ mqtt: deps.ingestMqtt, store: tracks, registry, log: deps.log, metrics: deps.metrics, clock: deps.clock });
  const rules = createVesselRules({ zones, registry, clock: deps.clock });

  let chain: Promise<unknown> = Promise.resolve();
  const commit = (events: readonly AlertEvent[], cause: unknown) => {
    if (events.length === 0) return chain;
    chain = chain
      .then(async () => {
        for (const e of events) {
          await deps.state.appendAlertEvent(e, cause);
          await publishEvent(deps.rulesMqtt, e);
        }
      })
      .catch((err: unknown) => log.error({ err }, 'vessel alert not published'));
    return chain;
  };

  ingest.events.on('position', (p) => void commit(rules.onPosition(p), { position: p }));
  const timer = setInterval(() => void commit(rules.tick(), { tick: new Date(deps.clock.now()).toISOString() }), VESSEL_TICK_MS);
  timer.unref();
  await ingest.start();

  return {
    query: ingest.query,
    /** an operator's storm danger area: alerts for the vessels inside now, and as they move */
    async declareStorm(input: StormAreaInput, user: string) {
      const { area, events } = rules.declareStorm(input, ingest.query.list());
      log.info({ audit: true, action: 'storm.declare', user, area: area.id }, 'storm area declared');
      await commit(events, { storm: area.id, user });
      return { area, vessels: rules.stormVessels(area.id) ?? [] };
    },
    async stop() {
      clearInterval(timer);
      await ingest.stop();
      await chain;
      await tracks.close();
    },
  };
}
export type VesselServices = Awaited<ReturnType<typeof startVessels>>;
