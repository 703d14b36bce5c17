import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ScenarioName } from '../firmware-sim/scenarios.ts';
import { createPlcSim } from '../firmware-sim/modbus/plc.ts';
import { startModbusTcpServer } from '../firmware-sim/modbus/tcp-server.ts';
import { DEFAULT_MODBUS_FILE, loadModbusMap } from '../ingest/modbus/load.ts';
import { createModbusPoller } from '../ingest/modbus/poller.ts';
import type { ReadingSink } from '../ingest/reading-sink.ts';
import type { Station } from './stations.ts';

/** how often the simulated PLCs move on in their scenario (real ms) */
const PLC_UPDATE_MS = 1000;

/**
 * The Modbus poller of this process, over the register map of config/modbus.yaml. With the
 * simulator on, each TCP device of the map is answered by a simulated PLC on an ephemeral
 * loopback port (the map's addresses are the field's, not this machine's); serial RTU devices are
 * left out there, having no port to open.
 */
export async function startModbus(deps: {
  file?: string;
  stations: readonly Station[];
  accept: ReadingSink;
  sim?: { scenario: ScenarioName; speed: number };
  log: Logger;
  metrics: Registry;
  clock: { now(): number };
}) {
  const map = loadModbusMap(deps.file ?? DEFAULT_MODBUS_FILE, { stations: deps.stations.map((s) => s.id) });
  const closers: Array<() => Promise<void>> = [];
  let devices = map.devices;
  if (deps.sim) {
    const { scenario, speed } = deps.sim;
    const started = deps.clock.now();
    const sims: Array<ReturnType<typeof createPlcSim>> = [];
    const simulated: Array<(typeof devices)[number]> = [];
    for (const device of devices) {
      if (device.transport.kind !== 'tcp') continue;
      const plc = createPlcSim(device, { scenario, stations: deps.stations });
      plc.update(0);
      const server = await startModbusTcpServer({ bank: plc.bank, unitId: device.unitId, host: '127.0.0.1', port: 0 });
      closers.push(() => server.close());
      sims.push(plc);
      simulated.push({ ...device, transport: { ...device.transport, host: '127.0.0.1', port: server.port } });
    }
    devices = simulated;
    const timer = setInterval(() => sims.forEach((p) => p.update(((deps.clock.now() - started) / 1000) * speed)), PLC_UPDATE_MS);
    timer.unref();
    closers.push(async () => clearInterval(timer));
  }
  const poller = createModbusPoller({ config: { ...map, devices }, accept: deps.accept, metrics: deps.metrics, log: deps.log, clock: deps.clock });
  await poller.start();
  return {
    poller,
    /** the stations a simulated PLC answers for (the MQTT simulator leaves them out) */
    simulatedStations: deps.sim ? devices.map((d) => d.station) : [],
    async stop() {
      await poller.stop();
      for (const close of closers.reverse()) await close();
    },
  };
}
