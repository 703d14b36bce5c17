import { join } from 'node:path';
import type { Station } from '../contract/station.ts';
import { SIM_AIS_RECEIVER, simFleetDevices, startVesselFleet } from '../firmware-sim/fleet-vessels.ts';
import { simDeviceId, startSimulator } from '../firmware-sim/fleet.ts';
import { AIS_RECEIVER, vesselTarget } from '../lib/devices.ts';
import { loadSeaZones } from '../rules/vessels/zones.ts';
import { simDeviceCredentials } from './devices.ts';
import { saveSecrets } from './secrets.ts';
import type { StartContext } from './start-context.ts';
import type { Pipeline } from './start-pipeline.ts';
import type { Stores } from './start-stores.ts';
import { DEFAULT_SEA_ZONES_FILE } from './vessels.ts';

/**
 * Simulated devices are registered like real ones, with their secrets kept in the data dir:
 * the stations' sensors, and the fishing fleet's AIS receiver and VMS trackers.
 */
export async function startSimulators(c: StartContext, mqttUrl: string, store: NonNullable<Stores['local']>, pipeline: Pipeline, stations: readonly Station[]): Promise<void> {
  const { config, secrets, log, clock } = c;
  // every station of the catalogue reports (none stays grey on the console): over MQTT, but
  // for the reservoirs whose dam PLC the Modbus simulator answers (platform/modbus.ts)
  const onModbus = new Set(pipeline.modbus?.simulatedStations ?? []);
  const simStations = stations.filter((s) => !onModbus.has(s.id));
  const fleetVessels = pipeline.vesselRegister().vessels;
  const simDevices = [
    ...simStations.map((s) => ({ id: simDeviceId(s.id), target: s.id })),
    ...simFleetDevices(fleetVessels).map((d) => ({ id: d.id, target: d.vessel ? vesselTarget(d.vessel) : AIS_RECEIVER })),
  ];
  // a simulated id an operator took over is skipped, not taken back (platform/devices.ts)
  const { secrets: running, hashes, skipped } = await simDeviceCredentials(pipeline.deviceAdmin!, store, simDevices.map((d) => ({ id: d.id, target: d.target })), { secrets: secrets.simDevices, hashes: secrets.simDeviceHashes }, log);
  secrets.simDevices = { ...secrets.simDevices, ...running };
  secrets.simDeviceHashes = { ...secrets.simDeviceHashes, ...hashes };
  await saveSecrets(c.dataDir, secrets);
  const sim = await startSimulator({
    url: mqttUrl,
    devices: simStations.filter((s) => running[simDeviceId(s.id)]).map((s) => ({ deviceId: simDeviceId(s.id), secret: running[simDeviceId(s.id)]!, station: s })),
    scenario: config.SIM_SCENARIO,
    intervalMs: config.SIM_INTERVAL_MS,
    speed: config.SIM_SPEED,
    log,
    clock,
    ...(config.SIM_FAULTS ? { faults: config.SIM_FAULTS } : {}),
  });
  c.onStop(() => sim.stop());

  // without its shore receiver the fleet cannot sail; a vessel whose tracker was taken over sails on AIS alone
  if (running[SIM_AIS_RECEIVER]) {
    const fleet = await startVesselFleet({
      url: mqttUrl,
      receiverId: SIM_AIS_RECEIVER,
      secretOf: (id) => running[id]!,
      vessels: fleetVessels.map((v) => (skipped.includes(v.id) ? { ...v, vms: false } : v)),
      ports: loadSeaZones(DEFAULT_SEA_ZONES_FILE).ports,
      intervalMs: config.SIM_INTERVAL_MS,
      speed: config.SIM_SPEED,
      log,
      clock,
    });
    c.onStop(() => fleet.stop());
  }
}
