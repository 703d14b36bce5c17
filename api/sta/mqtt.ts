import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ThrottledLog } from '../../lib/throttled-log.ts';
import type { Bus } from '../../contract/bus.ts';
import { observation } from '../../contract/obs.ts';
import type { Station } from '../../contract/station.ts';
import { subscriptions } from '../../contract/topics.ts';
import type { MetricName } from '../../contract/metrics.ts';
import type { TimeSeriesStore } from '../../store/types.ts';
import { buildCatalogue, observationEntity } from './model.ts';
import { formatEntity, type StaContext } from './query.ts';

/**
 * The MQTT extension's "receive updates" (OGC 18-088 §14.2): each observation the platform stores
 * (`huewatch/v1/obs/{station}`, published by ingest once the reading is durable) is published again
 * as a SensorThings Observation, the JSON of the REST entity, on
 *   v1.1/Datastreams('kim-long:water_level')/Observations   (new Observations of a Datastream)
 *   v1.1/Observations                                       (every new Observation)
 * QoS 0, never retained. Anonymous clients may subscribe to `v1.1/#` and publish nothing there
 * (broker/acl.ts): SensorThings' "create observations via MQTT" is not offered.
 */

export const STA_MQTT_ROOT = 'v1.1';
export const staTopics = {
  datastreamObservations: (datastreamId: string) => `${STA_MQTT_ROOT}/Datastreams('${datastreamId.replace(/'/g, "''")}')/Observations`,
  observations: `${STA_MQTT_ROOT}/Observations`,
} as const;

export interface StaMqttDeps {
  bus: Pick<Bus, 'publishAsync' | 'subscribeAsync' | 'unsubscribeAsync' | 'on' | 'off'>;
  stations: readonly Station[];
  /** where the readings are: an Observation is published once it can be read back (its self link answers) */
  store: Pick<TimeSeriesStore, 'series'>;
  /** `http://host:port/sta/v1.1`: the base of the Observations' self and navigation links */
  base: string;
  log: Logger;
  /** how often waiting observations are looked up in the store (default 200 ms) */
  checkEveryMs?: number;
  /** an observation not readable after this long is published anyway (the store is down and ingest spooled it; default 60 s) */
  giveUpMs?: number;
  clock?: { now(): number };
  /**
   * How many observations may wait for the store in all (default 20,000: two seconds of a
   * saturating burst). Past it the oldest of the Datastream is dropped, counted and logged once a
   * minute: these are QoS 0 updates, the reading itself is stored (REST has it), and the list must
   * not grow with a backlog while the store is down.
   */
  maxWaiting?: number;
  /** where the dropped count goes (`huewatch_sta_mqtt_dropped_total`) */
  metrics?: Registry;
}

interface Waiting { station: string; metric: MetricName; ts: number; value: number; since: number }

/**
 * Ingest publishes an observation beside its write, not after it (ingest/reading-sink.ts: the rules
 * must not wait for a group commit), so each one waits here until the store has it: a client
 * that follows the Observation's self link finds it. One range read per Datastream and check.
 */
export function createStaMqttPublisher(deps: StaMqttDeps): { start(): Promise<void>; stop(): Promise<void> } {
  const catalogue = buildCatalogue(deps.stations);
  const clock = deps.clock ?? Date;
  const giveUpMs = deps.giveUpMs ?? 60_000;
  // an Observation's JSON reads nothing from the store
  const ctx: StaContext = { catalogue, base: deps.base, now: 0, store: { series: async () => [], count: async () => 0 } };
  const waiting = new Map<string, Waiting[]>();
  const maxWaiting = deps.maxWaiting ?? 20_000;
  let waitingCount = 0;
  const dropped = new Counter({
    name: 'huewatch_sta_mqtt_dropped_total',
    help: 'Observations not published on the SensorThings MQTT topics: more than maxWaiting waited for the store',
    registers: deps.metrics ? [deps.metrics] : [],
  });
  const dropLog = new ThrottledLog(deps.log, 60_000, () => clock.now());
  let checking: Promise<void> | undefined;
  let stopped = false;

  const onMessage = (topic: string, payload: Buffer) => {
    if (!topic.startsWith('huewatch/v1/obs/')) return;
    let obs;
    try {
      obs = observation.parse(JSON.parse(payload.toString('utf8')));
    } catch {
      return; // ingest validated it; something else on obs/ is not ours to republish
    }
    for (const v of obs.values) {
      const ds = catalogue.datastream(obs.station, v.metric);
      if (!ds) continue;
      const list = waiting.get(ds.id) ?? [];
      list.push({ station: obs.station, metric: v.metric, ts: obs.ts, value: v.value, since: clock.now() });
      waiting.set(ds.id, list);
      if (++waitingCount > maxWaiting) {
        list.shift();
        waitingCount--;
        dropped.inc();
        dropLog.warn('sta-dropped', { maxWaiting }, 'SensorThings MQTT: too many observations waiting for the store, the oldest not published');
      }
    }
  };

  const publish = async (dsId: string, w: Waiting) => {
    const json = JSON.stringify(await formatEntity(observationEntity(w.station, w.metric, w.ts, w.value), { raw: {} }, ctx));
    await deps.bus.publishAsync(staTopics.datastreamObservations(dsId), json, { qos: 0 });
    await deps.bus.publishAsync(staTopics.observations, json, { qos: 0 });
  };

  const check = async () => {
    for (const [dsId, list] of [...waiting]) {
      if (list.length === 0) { waiting.delete(dsId); continue; }
      // a loop, not a spread: a store down for a minute leaves many waiting
      const from = list.reduce((m, w) => Math.min(m, w.ts), Infinity);
      const to = list.reduce((m, w) => Math.max(m, w.ts), -Infinity) + 1;
      const stored = new Set((await deps.store.series({ station: list[0]!.station, metric: list[0]!.metric, from, to })).map((p) => p.ts));
      const now = clock.now();
      // the list as it is now: observations may have come (or been dropped) during the read
      const current = waiting.get(dsId) ?? [];
      const ready: Waiting[] = [];
      const rest: Waiting[] = [];
      for (const w of current) (stored.has(w.ts) || now - w.since > giveUpMs ? ready : rest).push(w);
      if (ready.length === 0) continue;
      waitingCount -= ready.length;
      if (rest.length > 0) waiting.set(dsId, rest); else waiting.delete(dsId);
      // in observation-time order within a Datastream
      for (const w of ready.sort((a, b) => a.ts - b.ts)) await publish(dsId, w);
    }
  };
  const timer = setInterval(() => {
    if (checking || stopped || waiting.size === 0) return;
    checking = check()
      .catch((err: unknown) => deps.log.warn({ err }, 'SensorThings MQTT: could not publish observations'))
      .finally(() => { checking = undefined; });
  }, deps.checkEveryMs ?? 200);
  timer.unref();

  return {
    async start() {
      deps.bus.on('message', onMessage);
      const [granted] = await deps.bus.subscribeAsync(subscriptions.allObs, { qos: 0 });
      if (granted && granted.qos === 128) throw new Error(`SensorThings MQTT: the broker refused ${subscriptions.allObs}`);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      deps.bus.off('message', onMessage);
      await deps.bus.unsubscribeAsync(subscriptions.allObs).catch(() => undefined);
      await checking;
    },
  };
}
