import { hostname } from 'node:os';
import { join } from 'node:path';
import { deviceChangedTopic } from '../broker/auth-revocation.ts';
import type { Station } from '../contract/station.ts';
import { createIngest, type Ingest } from '../ingest/ingest.ts';
import type { VesselRegistry } from '../ingest/vessels/registry.ts';
import { createRulesEngine, type RulesEngine } from '../rules/engine.ts';
import type { OperatorActions } from '../rules/operator-actions.ts';
import type { RuleSet } from '../rules/schema.ts';
import { createDeviceAdmin } from './devices.ts';
import { startModbus } from './modbus.ts';
import type { ServiceClients } from './start-broker.ts';
import type { StartContext } from './start-context.ts';
import type { Stores } from './start-stores.ts';
import { loadVesselRegister, startVessels, type VesselServices } from './vessels.ts';

/**
 * The data path of one process: the rules engine (where the state database is), ingest and its
 * Modbus pollers, the vessel services, and the device registry. Ingest and rules in one process:
 * readings go from ingest straight into the engine, beside the group commit.
 * `setIngest`: hands ingest to the broker's ingress as soon as it exists.
 */
export async function startPipeline(
  c: StartContext, stores: Stores, bus: ServiceClients,
  catalogue: { stations: readonly Station[]; rules: RuleSet }, setIngest: (ingest: Ingest) => void,
) {
  const { config, run, log, metrics, clock } = c;
  const { local, series, devices } = stores;
  const { stations, rules } = catalogue;
  const { localBus, connect, busFor } = bus;
  // one connection of the rules account: the engine and the vessel rules share it (two with
  // one client id would take each other's session over, for ever [MQTT-3.1.4-2])
  const rulesBus = local ? await busFor('rules') : undefined;
  const engine: RulesEngine | undefined = local
    ? createRulesEngine({
      rules, stations, mqtt: rulesBus!, state: local, series: series!.reads, log, metrics, clock,
      // fed by ingest directly when it runs here; else observations come over MQTT
      subscribeObs: !run.has('ingest'),
    })
    : undefined;
  let ingest: Ingest | undefined;
  if (run.has('ingest')) {
    // Without the broker here: a persistent session, so what the broker delivered but ingest
    // had not stored comes again.
    // Workers sharing the telemetry ($share/ingest/…: INGEST_SHARED, or REDIS_URL's several
    // brokers) each need their own session: svc-ingest-{INGEST_WORKER}.
    const shared = !localBus && (config.INGEST_SHARED || config.REDIS_URL !== undefined);
    const ingestMqtt = localBus ? undefined : await connect('ingest', false, true, shared ? `-${config.INGEST_WORKER ?? hostname()}` : '');
    ingest = createIngest({
      ...(shared ? { shareGroup: 'ingest' } : {}),
      store: series!.writes, devices, log, metrics, clock,
      bus: localBus ?? ingestMqtt!,
      ...(ingestMqtt ? { mqtt: ingestMqtt } : {}),
      ...(engine ? { observe: (obs) => engine.observe(obs) } : {}),
      // the duplicate check by seq survives a restart: warmed from the readings stored (either store)
      sequenced: series!.sequenced,
    });
    setIngest(ingest);
  }
  if (engine) {
    // before ingest: the engine's replay of stored-but-unevaluated readings comes first
    await engine.start();
    c.onStop(() => engine.stop());
  }
  let modbus: Awaited<ReturnType<typeof startModbus>> | undefined;
  if (ingest) {
    const started = ingest;
    await started.start();
    // stopped before the engine and the broker: takes no more, and drains what it took
    c.onStop(() => started.stop());
    // Modbus PLCs and RTUs: polled values take the same path as MQTT readings.
    if (config.MODBUS || config.SIM) {
      const poller = await startModbus({
        file: config.MODBUS_FILE,
        stations,
        accept: started.sink,
        ...(config.SIM ? { sim: { scenario: config.SIM_SCENARIO, speed: config.SIM_SPEED } } : {}),
        log,
        metrics,
        clock,
      });
      modbus = poller;
      c.onStop(() => poller.stop());
    }
  }
  let operator: OperatorActions | undefined;
  let vessels: VesselServices | undefined;
  if (local) {
    operator = engine!.operator;
    // Vessels: AIS/VMS ingest and geofence rules, beside the state their rules keep (with the
    // ingest account: a clean session, so nothing queued arrives before its handler).
    const started = await startVessels({
      ingestMqtt: await connect('ingest', true, false, '-vessels'),
      rulesMqtt: rulesBus!,
      state: local,
      tracksFile: join(c.dataDir, 'vessels.duckdb'),
      // the fisheries dashboard reads positions from InfluxDB (store/influx-vessels.ts)
      ...(config.STORE === 'influx' ? { influxCopy: { url: config.INFLUX_URL!, token: config.INFLUX_TOKEN, org: config.INFLUX_ORG, bucket: config.INFLUX_BUCKET } } : {}),
      vesselsFile: config.VESSELS_FILE,
      log,
      metrics,
      clock,
    });
    vessels = started;
    c.onStop(() => started.stop());
  }
  // the vessel register: VMS trackers are registered against it (loaded when first needed)
  let register: VesselRegistry | undefined;
  const vesselRegister = () => (register ??= vessels?.registry ?? loadVesselRegister(config.VESSELS_FILE));
  // the device registry lives with the state database; each change is announced to the broker,
  // which cuts the device's session (broker/auth-revocation.ts), over the bus or the wire alike
  const deviceAdmin = local
    ? createDeviceAdmin({
      state: local, stations, vessels: vesselRegister, log, clock,
      onChange: async (id) => void (await rulesBus!.publishAsync(deviceChangedTopic(id), '', { qos: 1 })),
    })
    : undefined;
  return { modbus, operator, vessels, vesselRegister, deviceAdmin };
}
export type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
