import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from '../lib/log.ts';
import { registerDevice } from './devices.ts';
import { AIS_RECEIVER, vesselTarget } from '../lib/devices.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from './stations.ts';

const USAGE = `Usage: huewatch <command> [options]

Commands:
  start                          run the platform (broker, ingest, rules, API, simulator)
      --services broker,ingest,rules,api   run only these services (env SERVICES)
      --no-sim                   do not start the simulated stations (env SIM=0)
      --scenario flood|calm      simulator scenario (env SIM_SCENARIO)
  sim                            run the simulated stations and fishing fleet against a running platform
      --url mqtt://host:port     broker to connect to (default: this machine's MQTT_PORT)
      --api http://host:port     register the simulated devices through this API (ADMIN_TOKEN)
      --scenario flood|calm      --speed N (simulated s per real s)   --interval MS
  device add <deviceId> --station <stationId>
                                 register a device and print its secret (shown once)
  device add <registration> --vessel
                                 register a vessel's VMS tracker (its id is the registration number)
  device add <deviceId> --receiver
                                 register an AIS shore receiver

Configuration comes from environment variables; see README.md and .env.example.
`;

const out = (s: string) => process.stdout.write(s + '\n');

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest);
      case 'sim':
        return await sim(rest);
      case 'device':
        return await device(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`huewatch: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('HW_ERR_')) {
      process.stderr.write(`huewatch: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

function configWith(overrides: Record<string, string | undefined>): Config {
  return loadConfig({ ...process.env, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) });
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { services: { type: 'string' }, 'no-sim': { type: 'boolean' }, scenario: { type: 'string' } } });
  const config = configWith({ SERVICES: values.services, SIM: values['no-sim'] ? '0' : undefined, SIM_SCENARIO: values.scenario });
  const log = createLogger(config.LOG_LEVEL);
  const { startPlatform } = await import('./main.ts');
  const platform = await startPlatform(config, log);
  out(
    [
      'HueWatch is running.',
      `  MQTT       ${platform.mqttUrl}`,
      ...(platform.wsPort !== undefined ? [`  MQTT/WS    ws://${config.HOST}:${platform.wsPort}/mqtt`] : []),
      ...(platform.httpUrl ? [`  HTTP API   ${platform.httpUrl}/api/v1/stations   (live alerts: ${platform.httpUrl}/api/v1/stream)`] : []),
      ...(platform.opsUrl ? [`  ops        ${platform.opsUrl}/health   (metrics: ${platform.opsUrl}/metrics)`] : []),
      `  data       ${resolve(config.DATA_DIR)}   (admin token and service secrets in secrets.json)`,
      // the simulator runs beside the broker and the state database (main.ts)
      `  simulator  ${config.SIM && config.SERVICES.includes('broker') && config.SERVICES.includes('rules') ? `on, scenario "${config.SIM_SCENARIO}" at ${config.SIM_SPEED}x` : 'off'}`,
      'Ctrl-C stops it.',
    ].join('\n'),
  );
  await new Promise<void>((done) => {
    const onSignal = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await platform.stop();
  return 0;
}

async function sim(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { url: { type: 'string' }, api: { type: 'string' }, scenario: { type: 'string' }, speed: { type: 'string' }, interval: { type: 'string' } } });
  const config = configWith({ SIM_SCENARIO: values.scenario, SIM_SPEED: values.speed, SIM_INTERVAL_MS: values.interval });
  const log = createLogger(config.LOG_LEVEL);
  const dataDir = resolve(config.DATA_DIR);
  const secrets = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8').catch(() => '{}')) as { simDevices?: Record<string, string> };
  const stations = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE);
  const { startSimulator, simDeviceId } = await import('../firmware-sim/fleet.ts');
  if (values.api) {
    // Against a platform elsewhere (e.g. the compose stack): register the simulated stations
    // through its API with the admin token; a new secret replaces any earlier one.
    secrets.simDevices = { ...secrets.simDevices };
    for (const s of stations.filter((st) => st.kind === 'river' || st.kind === 'rain')) {
      secrets.simDevices[simDeviceId(s.id)] = await registerThroughApi(config, dataDir, simDeviceId(s.id), { station: s.id }, undefined, values.api);
    }
  }
  // The fishing fleet as the platform's own simulator sails it (platform/main.ts), registered the same way.
  const { SIM_AIS_RECEIVER, simFleetDevices, startVesselFleet } = await import('../firmware-sim/fleet-vessels.ts');
  const { loadVesselRegister, DEFAULT_SEA_ZONES_FILE } = await import('./vessels.ts');
  const vessels = loadVesselRegister(config.VESSELS_FILE).vessels;
  const fleetDevices = simFleetDevices(vessels).map((d) => ({ id: d.id, body: d.vessel ? { vessel: d.vessel } : { receiver: true as const } }));
  if (values.api) {
    for (const d of fleetDevices) secrets.simDevices![d.id] = await registerThroughApi(config, dataDir, d.id, d.body, undefined, values.api);
  }
  const devices = stations
    .map((s) => ({ deviceId: simDeviceId(s.id), secret: secrets.simDevices?.[simDeviceId(s.id)], station: s }))
    .filter((d): d is typeof d & { secret: string } => d.secret !== undefined);
  if (devices.length === 0) {
    process.stderr.write(`huewatch sim: no simulated devices are registered in ${config.DATA_DIR}/secrets.json; start the platform once with SIM=1, or give --api <platform URL> (with ADMIN_TOKEN) to register them\n`);
    return 1;
  }
  const url = values.url ?? `mqtt://127.0.0.1:${config.MQTT_PORT}`;
  const simulator = await startSimulator({ url, devices, scenario: config.SIM_SCENARIO, intervalMs: config.SIM_INTERVAL_MS, speed: config.SIM_SPEED, log });
  const stops = [() => simulator.stop()];
  // the fleet sails only when every one of its devices has a secret here
  const sails = fleetDevices.every((d) => secrets.simDevices?.[d.id] !== undefined);
  if (sails) {
    const { loadSeaZones } = await import('../rules/vessels/zones.ts');
    const fleet = await startVesselFleet({
      url,
      receiverId: SIM_AIS_RECEIVER,
      secretOf: (id) => secrets.simDevices![id]!,
      vessels,
      ports: loadSeaZones(DEFAULT_SEA_ZONES_FILE).ports,
      intervalMs: config.SIM_INTERVAL_MS,
      speed: config.SIM_SPEED,
      log,
      clock: Date,
    });
    stops.push(() => fleet.stop());
  }
  out(`Simulating ${devices.length} devices${sails ? ` and ${vessels.length} vessels` : ''} against ${url} (scenario "${config.SIM_SCENARIO}"). Ctrl-C stops it.`);
  await new Promise<void>((done) => process.once('SIGINT', () => done()).once('SIGTERM', () => done()));
  for (const stop of stops.reverse()) await stop();
  return 0;
}

async function device(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { station: { type: 'string' }, vessel: { type: 'boolean' }, receiver: { type: 'boolean' } } });
  const [sub, deviceId] = positionals;
  const given = [values.station !== undefined, values.vessel === true, values.receiver === true].filter(Boolean).length;
  if (sub !== 'add' || !deviceId || given !== 1 || values.station === '') {
    process.stderr.write(`Usage: huewatch device add <deviceId> --station <stationId> | --vessel | --receiver\n`);
    return 2;
  }
  // what the device is for, as kept in its record (lib/devices.ts)
  const target = values.vessel ? vesselTarget(deviceId) : values.receiver ? AIS_RECEIVER : values.station!;
  const config = configWith({});
  const dataDir = resolve(config.DATA_DIR);
  const stations = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE);
  const { openEmbeddedStore } = await import('../store/duckdb.ts');
  let secret: string;
  let store: Awaited<ReturnType<typeof openEmbeddedStore>> | undefined;
  const body = values.vessel ? { vessel: deviceId } : values.receiver ? { receiver: true as const } : { station: values.station! };
  if (!config.SERVICES.includes('rules')) {
    // e.g. in the compose stack's api container: the state database is the rules process's
    secret = await registerThroughApi(config, dataDir, deviceId, body);
  } else {
    try {
      store = await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log: createLogger('silent') });
    } catch (err) {
      // The database file is locked while the platform runs: register through its API instead.
      secret = await registerThroughApi(config, dataDir, deviceId, body, err as Error);
    }
  }
  if (store) {
    try {
      const register = values.vessel ? (await import('./vessels.ts')).loadVesselRegister(config.VESSELS_FILE) : undefined;
      ({ secret } = await registerDevice(store, stations, deviceId, target, Date.now(), register && (() => register)));
    } finally {
      await store.close();
    }
  }
  out(`Registered ${deviceId} ${values.vessel ? `as the VMS tracker of vessel ${deviceId}` : values.receiver ? 'as an AIS receiver' : `for station ${values.station}`}.`);
  out(`  MQTT username: ${deviceId}   (client id: ${deviceId})`);
  out(`  MQTT password: ${secret!}`);
  out(`  publish to:    huewatch/v1/${values.vessel ? 'vms' : values.receiver ? 'ais' : 'telemetry'}/${deviceId}`);
  out('The secret is shown only now; store it in the device.');
  return 0;
}

async function registerThroughApi(config: Config, dataDir: string, deviceId: string, target: { station: string } | { vessel: string } | { receiver: true }, cause?: Error, apiUrl = `http://127.0.0.1:${config.HTTP_PORT}`): Promise<string> {
  const secrets = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8').catch(() => 'null')) as { adminToken?: string } | null;
  const token = config.ADMIN_TOKEN ?? secrets?.adminToken;
  if (!token) throw new Error(cause ? `cannot open the store (${cause.message}) and no admin token to use the API` : 'ADMIN_TOKEN is needed to register devices through the API');
  const res = await fetch(`${apiUrl.replace(/\/$/, '')}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deviceId, ...target }),
  });
  const body = (await res.json()) as { secret?: string; code?: string; message?: string };
  if (!res.ok || !body.secret) throw Object.assign(new Error(body.message ?? `API answered ${res.status}`), { code: body.code ?? 'HW_ERR_INTERNAL' });
  return body.secret;
}
