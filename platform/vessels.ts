import type { MqttClient } from 'mqtt';
import type { Bus } from '../contract/bus.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AlertEvent } from '../contract/alert.ts';
import { createVesselIngest } from '../ingest/vessels/service.ts';
import { loadVesselRegistry, type VesselRegistry } from '../ingest/vessels/registry.ts';
import { publishEvent } from '../rules/alerts.ts';
import { topics } from '../contract/topics.ts';
import { createVesselRules, type VesselRules, type VesselRulesChanges } from '../rules/vessels/evaluator.ts';
import { VESSEL_RULE_STATE_NAMESPACE, type StormAreaInput } from '../rules/vessels/storm.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { openDuckDbVesselTracks } from '../store/vessel-tracks.ts';
import { withInfluxCopy, type InfluxTarget } from '../store/influx-vessels.ts';
import type { StateStore } from '../store/types.ts';

export const DEFAULT_VESSELS_FILE = new URL('../config/vessels.yaml', import.meta.url).pathname;
export const DEFAULT_SEA_ZONES_FILE = new URL('../config/hue-sea-zones.geojson', import.meta.url).pathname;
// the vessel rules' state in the StateStore (rules/vessels/storm.ts says what it holds)
export { VESSEL_RULE_STATE_NAMESPACE };

/** The vessel register (config VESSELS_FILE, else config/vessels.yaml), its home ports checked. */
export function loadVesselRegister(vesselsFile?: string): VesselRegistry {
  return loadVesselRegistry(vesselsFile ?? DEFAULT_VESSELS_FILE, loadSeaZones(DEFAULT_SEA_ZONES_FILE).ports.map((p) => p.id));
}

/** how often signal loss and storm validity are checked (the VMS ladder counts hours) */
const VESSEL_TICK_MS = 60_000;

/**
 * Fishing vessels in one process: AIS/VMS ingest (its own `ingest` connection), the tracks file,
 * and the geofence rules, whose alert events are stored and then published on the alerts topic
 * with the `rules` connection (only the rules account may publish alerts), one at a time in order.
 */
export async function startVessels(deps: {
  ingestMqtt: MqttClient;
  /** the rules' side: alert events out (the in-process bus where the broker runs here) */
  rulesMqtt: Bus;
  state: StateStore;
  tracksFile: string;
  /** STORE=influx: positions are copied to InfluxDB too (measurement `vessel`, for Grafana) */
  influxCopy?: InfluxTarget;
  vesselsFile?: string;
  log: Logger;
  metrics: Registry;
  clock: { now(): number };
}) {
  const log = deps.log.child({ module: 'vessels' });
  const zones = loadSeaZones(DEFAULT_SEA_ZONES_FILE);
  const registry = loadVesselRegistry(deps.vesselsFile ?? DEFAULT_VESSELS_FILE, zones.ports.map((p) => p.id));
  const file = await openDuckDbVesselTracks(deps.tracksFile);
  const tracks = deps.influxCopy ? withInfluxCopy(file, deps.influxCopy, log, deps.metrics) : file;
  const ingest = createVesselIngest({ mqtt: deps.ingestMqtt, store: tracks, registry, log: deps.log, metrics: deps.metrics, clock: deps.clock });
  const rules = createVesselRules({ zones, registry, clock: deps.clock });
  await restoreVesselRules(rules, deps.state, deps.rulesMqtt, log);

  // State changes waiting to be written; the newest state of a key replaces an older one.
  const pending: VesselRulesChanges = { vessels: new Map(), storms: new Map(), alerts: new Map() };
  const merge = (c: VesselRulesChanges) => {
    for (const [k, v] of c.vessels) pending.vessels.set(k, v);
    for (const [k, v] of c.storms) pending.storms.set(k, v);
    for (const [k, v] of c.alerts) pending.alerts.set(k, v);
  };
  // one transaction for all that changed since the last flush (5,000 vessels moving make as many keys)
  const flush = async () => {
    const changes: Array<{ key: string; value?: unknown }> = [];
    for (const [k, v] of pending.vessels) changes.push({ key: `vessel/${k}`, value: v });
    for (const [k, v] of pending.storms) changes.push(v ? { key: `storm/${k}`, value: v } : { key: `storm/${k}` });
    for (const [k, v] of pending.alerts) changes.push({ key: `alert/${k}`, value: v });
    const taken = { vessels: new Map(pending.vessels), storms: new Map(pending.storms), alerts: new Map(pending.alerts) };
    pending.vessels.clear();
    pending.storms.clear();
    pending.alerts.clear();
    try {
      await deps.state.writeJsonBatch(VESSEL_RULE_STATE_NAMESPACE, changes);
    } catch (err) {
      // not written: back into pending for the next flush, unless a newer state came meanwhile
      for (const [k, v] of taken.vessels) if (!pending.vessels.has(k)) pending.vessels.set(k, v);
      for (const [k, v] of taken.storms) if (!pending.storms.has(k)) pending.storms.set(k, v);
      for (const [k, v] of taken.alerts) if (!pending.alerts.has(k)) pending.alerts.set(k, v);
      throw err;
    }
  };

  let chain: Promise<unknown> = Promise.resolve();
  /**
   * The rules' state first (with the events: a crash before they are stored is healed at the next
   * start from it), then each event in the history, then on the alerts topic; one at a time, in order.
   */
  const commit = (events: readonly AlertEvent[], cause: unknown) => {
    const changes = rules.takeChanges();
    const changed = changes.vessels.size + changes.storms.size + changes.alerts.size > 0;
    if (events.length === 0 && !changed) return chain;
    merge(changes);
    chain = chain
      .then(async () => {
        await flush();
        for (const e of events) {
          await deps.state.appendAlertEvent(e, cause);
          await publishEvent(deps.rulesMqtt, e);
        }
      })
      .catch((err: unknown) => log.error({ err }, 'vessel alert or rule state not stored'));
    return chain;
  };

  ingest.events.on('position', (p) => void commit(rules.onPosition(p), { position: p }));
  const timer = setInterval(() => void commit(rules.tick(), { tick: new Date(deps.clock.now()).toISOString() }), VESSEL_TICK_MS);
  timer.unref();
  await ingest.start();

  return {
    query: ingest.query,
    registry,
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

/**
 * Loads the saved rule state into `rules`. Each saved alert event is compared with the history:
 * one missing there (a crash between the state write and the event's) is appended and published
 * now; an operator's newer event of it is taken. Open alerts are published again as they are
 * (same id and eventSeq: consumers dedupe), so a broker that lost its retained messages is healed;
 * ended ones are forgotten.
 */
async function restoreVesselRules(rules: VesselRules, state: StateStore, mqtt: Bus, log: Logger): Promise<void> {
  const ns = VESSEL_RULE_STATE_NAMESPACE;
  const saved: Parameters<VesselRules['importState']>[0] = { vessels: {}, storms: {}, alerts: {} };
  for (const { key, value } of await state.listJson<never>(ns)) {
    const cut = key.indexOf('/');
    const [kind, id] = [key.slice(0, cut), key.slice(cut + 1)];
    if (kind === 'vessel') saved.vessels![id] = value;
    else if (kind === 'storm') saved.storms![id] = value;
    else if (kind === 'alert') {
      const ev = value as AlertEvent;
      const stored = await state.getAlert(ev.id);
      let latest = ev;
      let published = false;
      if (stored && stored.eventSeq >= ev.eventSeq) latest = stored;
      else {
        published = true;
        await state.appendAlertEvent(ev, { recovered: ns });
        await publishEvent(mqtt, ev);
        log.warn({ id: ev.id, key: ev.key, eventSeq: ev.eventSeq }, 'vessel alert event missing from the store: recovered from rule state');
      }
      if (latest.status === 'active' || latest.status === 'acknowledged') {
        saved.alerts![id] = latest;
        if (!published) for (const code of latest.area.codes) await mqtt.publishAsync(topics.alert(code, latest.key), JSON.stringify(latest), { qos: 1, retain: true });
      } else {
        await state.deleteJson(ns, key);
      }
    }
  }
  rules.importState(saved);
  log.info({ vessels: Object.keys(saved.vessels!).length, storms: Object.keys(saved.storms!).length, openAlerts: Object.keys(saved.alerts!).length }, 'vessel rule state restored');
}
