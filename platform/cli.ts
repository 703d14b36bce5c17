import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configProblems, loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createDeviceAdmin } from './devices.ts';
import { deviceAdminOverApi } from './devices-over-api.ts';
import { AIS_RECEIVER, DeviceError, SOS_APP, vesselTarget, type DeviceAdmin } from '../lib/devices.ts';
import { ErrorCode } from '../contract/errors.ts';
import { userInfo } from 'node:os';
import { DEFAULT_STATIONS_FILE, loadStations } from './stations.ts';
import { accountAdminOverApi, accountAudit, localAccountAdmin, type AccountAdmin } from './accounts.ts';

const USAGE = `Usage: huewatch <command> [options]

Commands:
  start                          run the platform (broker, ingest, rules, API, simulator)
      --services broker,ingest,rules,api   run only these services (env SERVICES)
      --no-sim                   do not start the simulated stations (env SIM=0)
      --scenario NAME            simulator scenario: flood, calm, flood-2017, flood-2020, flood-2025 (env SIM_SCENARIO)
      --faults kim-long:stuck,rg-hue:duplicate
                                 faults of simulated stations (env SIM_FAULTS; firmware-sim/README.md)
  sim                            run the simulated stations and fishing fleet against a running platform
      --url mqtt://host:port     broker to connect to (default: this machine's MQTT_PORT)
      --api http://host:port     register the simulated devices through this API (ADMIN_TOKEN)
      --scenario NAME            --speed N (simulated s per real s)   --interval MS
      --faults station:fault,…   faults of simulated stations (env SIM_FAULTS)
  device add <deviceId> --station <stationId>
                                 register a device and print its secret (shown once)
  device add <registration> --vessel
                                 register a vessel's VMS tracker (its id is the registration number)
  device add <deviceId> --receiver
                                 register an AIS shore receiver
  device add <deviceId> --app
                                 register another app that sends residents' SOS over MQTT (sos/{id})
      --rotate                   the id exists: issue it a new secret (else an existing id is refused)
  device list                    the registered devices (never their secrets)
  device disable <deviceId>      refuse the device and cut its session (rotate enables it again)
  device remove <deviceId>       forget the device and cut its session
  device rotate <deviceId>       a new secret; the old one is refused from now and its session cut
  user add <name> --role admin|operator|viewer [--display-name "…"] [--password-file FILE]
                                 create a person's account (password from FILE, stdin or a prompt);
                                 prints its bearer token for scripts (shown once). The first admin comes from here.
  user list                      the accounts (never their passwords or tokens)
  user disable|enable <name>     refuse (or allow again) the account's password, tokens and sessions
  user passwd <name> [--password-file FILE]   a new password; the account's console sessions end
  user token <name> [--revoke-others]         another bearer token for scripts (shown once)

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
      case 'user':
        return await user(rest);
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
    // a configuration mistake: one line per problem, naming the key or file:line:col (exit 2)
    const problems = configProblems(err);
    if (problems) {
      for (const p of problems) process.stderr.write(`huewatch: ${p}\n`);
      return 2;
    }
    // a refusal with a stable code, or a system error (a port in use): its message says it all
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && (code.startsWith('HW_ERR_') || /^E[A-Z]+$/.test(code))) {
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
  const { values } = parseArgs({ args, options: { services: { type: 'string' }, 'no-sim': { type: 'boolean' }, scenario: { type: 'string' }, faults: { type: 'string' } } });
  const config = configWith({ SERVICES: values.services, SIM: values['no-sim'] ? '0' : undefined, SIM_SCENARIO: values.scenario, SIM_FAULTS: values.faults });
  const { log, startLogsShown } = quietStartLogger(config);
  const { startPlatform } = await import('./main.ts');
  const platform = await startPlatform(config, log);
  const area = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE).find((s) => s.kind === 'river')?.areaCode ?? 'kim-long';
  const secretsFile = join(resolve(config.DATA_DIR), 'secrets.json');
  // tokens given in the environment are kept in secrets.json too (platform/secrets.ts)
  const fromEnv = (['ADMIN_TOKEN', 'OPERATOR_TOKEN', 'VIEWER_TOKEN'] as const).filter((k) => config[k] !== undefined);
  out(
    [
      'HueWatch is running.',
      ...(platform.httpUrl
        ? [
          `  console    ${platform.httpUrl}/   (operations centre: sign in as a person from \`huewatch user add\`, or with the operator token)`,
          `  residents  ${platform.httpUrl}/resident.html?area=${area}`,
        ]
        : []),
      `  MQTT       ${platform.mqttUrl}`,
      ...(platform.wsPort !== undefined ? [`  MQTT/WS    ws://${config.MQTT_PLAIN_HOST ?? config.HOST}:${platform.wsPort}/mqtt`] : []),
      ...(platform.mqttsPort !== undefined ? [`  MQTTS      mqtts://${config.HOST}:${platform.mqttsPort}`] : []),
      ...(platform.wssPort !== undefined ? [`  MQTT/WSS   wss://${config.HOST}:${platform.wssPort}/mqtt`] : []),
      ...(platform.httpUrl ? [`  HTTP API   ${platform.httpUrl}/api/v1/stations   (live alerts: ${platform.httpUrl}/api/v1/stream)`] : []),
      ...(platform.opsUrl ? [`  ops        ${platform.opsUrl}/health   (metrics: ${platform.opsUrl}/metrics)`] : []),
      `  tokens     ${secretsFile}: operatorToken, viewerToken, adminToken${fromEnv.length > 0 ? ` (${fromEnv.join(', ')} from the environment)` : ''}`,
      // the simulator runs beside the broker and the state database (main.ts)
      `  simulator  ${config.SIM && config.SERVICES.includes('broker') && config.SERVICES.includes('rules') ? `on, scenario "${config.SIM_SCENARIO}" at ${config.SIM_SPEED}x` : 'off'}`,
      'Ctrl-C stops it.',
    ].join('\n'),
  );
  startLogsShown();
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

/**
 * The logger of `huewatch start`: until the banner is out, routine start logs (info and below) are
 * not written, so the banner is the last thing start prints; LOG_LEVEL set by hand shows them.
 * Logs and the banner share process.stdout, so they come out in the order they were written.
 */
function quietStartLogger(config: Config): { log: Logger; startLogsShown(): void } {
  let quiet = !process.env.LOG_LEVEL;
  const WARN = 40;
  const log = createLogger(config.LOG_LEVEL, {
    write(line: string) {
      if (quiet && Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? WARN) < WARN) return;
      process.stdout.write(line);
    },
  });
  return { log, startLogsShown: () => void (quiet = false) };
}

async function sim(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { url: { type: 'string' }, api: { type: 'string' }, scenario: { type: 'string' }, speed: { type: 'string' }, interval: { type: 'string' }, faults: { type: 'string' } } });
  const config = configWith({ SIM_SCENARIO: values.scenario, SIM_SPEED: values.speed, SIM_INTERVAL_MS: values.interval, SIM_FAULTS: values.faults });
  const log = createLogger(config.LOG_LEVEL);
  const dataDir = resolve(config.DATA_DIR);
  const secrets = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8').catch(() => '{}')) as { simDevices?: Record<string, string> };
  const stations = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE);
  const { startSimulator, simDeviceId } = await import('../firmware-sim/fleet.ts');
  if (values.api) {
    // Against a platform elsewhere (e.g. the compose stack): register the simulated stations
    // through its API with the admin token; a new secret replaces any earlier one.
    secrets.simDevices = { ...secrets.simDevices };
    // every station of the catalogue, reservoirs included: a platform elsewhere has no simulated dam PLCs
    for (const s of stations) {
      secrets.simDevices[simDeviceId(s.id)] = await registerThroughApi(config, dataDir, simDeviceId(s.id), { station: s.id }, undefined, values.api);
    }
  }
  // The fishing fleet as the platform's own simulator sails it (platform/start-simulators.ts), registered the same way.
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
  const simulator = await startSimulator({ url, devices, scenario: config.SIM_SCENARIO, intervalMs: config.SIM_INTERVAL_MS, speed: config.SIM_SPEED, log, ...(config.SIM_FAULTS ? { faults: config.SIM_FAULTS } : {}) });
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
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { station: { type: 'string' }, vessel: { type: 'boolean' }, receiver: { type: 'boolean' }, app: { type: 'boolean' }, rotate: { type: 'boolean' } } });
  const [sub, deviceId, ...extra] = positionals;
  const usage = () => {
    process.stderr.write(DEVICE_USAGE);
    return 2;
  };
  if (sub === 'list') {
    if (deviceId) return usage();
    return withDeviceAdmin(async (admin) => {
      const devices = await admin.list();
      out(devices.length === 0 ? 'No devices are registered.' : `${'DEVICE'.padEnd(24)} ${'FOR'.padEnd(28)} ${'STATE'.padEnd(9)} REGISTERED`);
      for (const d of devices) out(`${d.deviceId.padEnd(24)} ${d.station.padEnd(28)} ${(d.disabled ? 'disabled' : 'enabled').padEnd(9)} ${new Date(d.createdAt).toISOString()}`);
      return 0;
    });
  }
  if (!deviceId || extra.length > 0) return usage();
  if (sub === 'disable' || sub === 'remove' || sub === 'rotate') {
    return withDeviceAdmin(async (admin, user) => {
      if (sub === 'disable') {
        await admin.disable(deviceId, user);
        out(`Disabled ${deviceId}: it is refused until "huewatch device rotate ${deviceId}" gives it a new secret.`);
      } else if (sub === 'remove') {
        await admin.remove(deviceId, user);
        out(`Removed ${deviceId}: its secret is refused from now on.`);
      } else {
        const { secret } = await admin.rotate(deviceId, user);
        out(`Rotated the secret of ${deviceId}: the old one is refused from now on.`);
        out(`  MQTT password: ${secret}`);
        out('The secret is shown only now; store it in the device.');
      }
      return 0;
    });
  }
  const given = [values.station !== undefined, values.vessel === true, values.receiver === true, values.app === true].filter(Boolean).length;
  if (sub !== 'add' || given !== 1 || values.station === '') return usage();
  // what the device is for, as kept in its record (lib/devices.ts)
  const target = values.vessel ? vesselTarget(deviceId) : values.receiver ? AIS_RECEIVER : values.app ? SOS_APP : values.station!;
  return withDeviceAdmin(async (admin, user) => {
    const { secret, rotated } = await admin.register(deviceId, target, user, { rotate: values.rotate === true });
    out(`${rotated ? 'Re-registered' : 'Registered'} ${deviceId} ${values.vessel ? `as the VMS tracker of vessel ${deviceId}` : values.receiver ? 'as an AIS receiver' : values.app ? 'as an app that sends SOS calls' : `for station ${values.station}`}.`);
    if (rotated) out('  It had a secret: that one is refused from now on.');
    out(`  MQTT username: ${deviceId}   (client id: ${deviceId})`);
    out(`  MQTT password: ${secret}`);
    out(`  publish to:    huewatch/v1/${values.vessel ? 'vms' : values.receiver ? 'ais' : values.app ? 'sos' : 'telemetry'}/${deviceId}`);
    if (values.app) out(`  answers on:    huewatch/v1/devices/${deviceId}/sos   (subscribe to it before sending)`);
    out('The secret is shown only now; store it in the device.');
    return 0;
  });
}

const DEVICE_USAGE = `Usage: huewatch device add <deviceId> --station <stationId> | --vessel | --receiver | --app [--rotate]
       huewatch device list
       huewatch device disable|remove|rotate <deviceId>
`;

/**
 * Runs `work` against the device registry: the state database itself while the platform is
 * stopped, else the running platform's API with the admin token (the database is locked by it,
 * or belongs to another process). Changes are audited as the OS user here, as the token's name there.
 */
async function withDeviceAdmin(work: (admin: DeviceAdmin, user: string) => Promise<number>): Promise<number> {
  const config = configWith({});
  const dataDir = resolve(config.DATA_DIR);
  if (config.SERVICES.includes('rules')) {
    const { openEmbeddedStore } = await import('../store/duckdb.ts');
    let store: Awaited<ReturnType<typeof openEmbeddedStore>> | undefined;
    let cause: Error | undefined;
    try {
      store = await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log: createLogger('silent') });
    } catch (err) {
      cause = err as Error;
    }
    if (store) {
      try {
        const stations = loadStations(config.STATIONS_FILE ?? DEFAULT_STATIONS_FILE);
        const { loadVesselRegister } = await import('./vessels.ts');
        let register: ReturnType<typeof loadVesselRegister> | undefined;
        const admin = createDeviceAdmin({ state: store, stations, vessels: () => (register ??= loadVesselRegister(config.VESSELS_FILE)) });
        return await work(admin, `cli:${userInfo().username}`);
      } finally {
        await store.close();
      }
    }
    // The database file is locked while the platform runs: go through its API instead.
    return work(deviceAdminOverApi(`http://127.0.0.1:${config.HTTP_PORT}`, await adminToken(config, dataDir, cause)), 'admin');
  }
  // e.g. in the compose stack's api container: the state database is the rules process's
  return work(deviceAdminOverApi(`http://127.0.0.1:${config.HTTP_PORT}`, await adminToken(config, dataDir)), 'admin');
}

async function adminToken(config: Config, dataDir: string, cause?: Error): Promise<string> {
  const secrets = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8').catch(() => 'null')) as { adminToken?: string } | null;
  // in production secrets.json keeps only a fingerprint (`sha256:…`, platform/secrets.ts): ADMIN_TOKEN it is
  const kept = secrets?.adminToken?.startsWith('sha256:') ? undefined : secrets?.adminToken;
  const token = config.ADMIN_TOKEN ?? kept;
  if (!token) throw new DeviceError(ErrorCode.NOT_AUTHORIZED, cause ? `cannot open the state database (${cause.message}) and no admin token to use the API` : 'ADMIN_TOKEN is needed to manage devices through the API');
  return token;
}

/** Registers one of the simulator's own devices on a platform elsewhere: a new secret replaces any earlier one. */
async function registerThroughApi(config: Config, dataDir: string, deviceId: string, target: { station: string } | { vessel: string } | { receiver: true }, cause?: Error, apiUrl = `http://127.0.0.1:${config.HTTP_PORT}`): Promise<string> {
  const station = 'station' in target ? target.station : 'vessel' in target ? vesselTarget(target.vessel) : AIS_RECEIVER;
  const admin = deviceAdminOverApi(apiUrl, await adminToken(config, dataDir, cause));
  return (await admin.register(deviceId, station, 'simulator', { rotate: true })).secret;
}

const USER_USAGE = `Usage: huewatch user add <name> --role admin|operator|viewer [--display-name "…"] [--password-file FILE]
       huewatch user list
       huewatch user disable|enable <name>
       huewatch user passwd <name> [--password-file FILE]
       huewatch user token <name> [--revoke-others]
The password is read from --password-file, else from stdin when it is not a terminal, else asked twice.
`;

async function user(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { role: { type: 'string' }, 'display-name': { type: 'string' }, 'password-file': { type: 'string' }, 'revoke-others': { type: 'boolean' } } });
  const [sub, name, ...extra] = positionals;
  const usage = () => {
    process.stderr.write(USER_USAGE);
    return 2;
  };
  if (sub === 'list') {
    if (name) return usage();
    return withAccountAdmin(async (admin) => {
      const users = await admin.list();
      out(users.length === 0 ? 'No accounts yet: "huewatch user add <name> --role admin" creates the first.' : `${'NAME'.padEnd(20)} ${'ROLE'.padEnd(9)} ${'STATE'.padEnd(9)} ${'TOKENS'.padEnd(6)} DISPLAY NAME`);
      for (const u of users) out(`${u.name.padEnd(20)} ${u.role.padEnd(9)} ${(u.disabled ? 'disabled' : 'enabled').padEnd(9)} ${String(u.tokens).padEnd(6)} ${u.displayName}`);
      return 0;
    });
  }
  if (!name || extra.length > 0) return usage();
  if (sub === 'add') {
    const role = values.role;
    if (role !== 'admin' && role !== 'operator' && role !== 'viewer') return usage();
    const password = await readPassword(values['password-file']);
    return withAccountAdmin(async (admin) => {
      const { account, token } = await admin.add({ name, role, password, ...(values['display-name'] ? { displayName: values['display-name'] } : {}) });
      out(`Created ${account.role} account ${account.name}${account.displayName !== account.name ? ` (${account.displayName})` : ''}: it signs in on the console with its password.`);
      out(`  bearer token for scripts: ${token}`);
      out('The token is shown only now; "huewatch user token" issues another.');
      return 0;
    });
  }
  if (sub === 'disable' || sub === 'enable') {
    return withAccountAdmin(async (admin) => {
      await (sub === 'disable' ? admin.disable(name) : admin.enable(name));
      out(sub === 'disable' ? `Disabled ${name}: its password, tokens and sessions are refused.` : `Enabled ${name} again.`);
      return 0;
    });
  }
  if (sub === 'passwd') {
    const password = await readPassword(values['password-file']);
    return withAccountAdmin(async (admin) => {
      await admin.setPassword(name, password);
      out(`Set a new password for ${name}; its console sessions have ended.`);
      return 0;
    });
  }
  if (sub === 'token') {
    return withAccountAdmin(async (admin) => {
      const token = await admin.newToken(name, { revokeOthers: values['revoke-others'] === true });
      out(`New bearer token for ${name}${values['revoke-others'] ? ' (its earlier tokens are refused from now on)' : ''}:`);
      out(`  ${token}`);
      out('The token is shown only now.');
      return 0;
    });
  }
  return usage();
}

/** From a file, else stdin's first line when piped, else asked twice on the terminal without echo. */
async function readPassword(file: string | undefined): Promise<string> {
  const firstLine = (s: string) => s.split(/\r?\n/)[0] ?? '';
  if (file) return firstLine(await readFile(file, 'utf8'));
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return firstLine(Buffer.concat(chunks).toString('utf8'));
  }
  const first = await askHidden('Password: ');
  const again = await askHidden('Again:    ');
  if (first !== again) throw Object.assign(new Error('the passwords differ'), { code: ErrorCode.BAD_REQUEST });
  return first;
}

function askHidden(prompt: string): Promise<string> {
  return new Promise((done) => {
    process.stderr.write(prompt);
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          return done(typed);
        }
        if (ch === '\u0003') process.exit(130); // Ctrl-C
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** As withDeviceAdmin: the state database while the platform is stopped, else its API with the admin token. */
async function withAccountAdmin(work: (admin: AccountAdmin) => Promise<number>): Promise<number> {
  const config = configWith({});
  const dataDir = resolve(config.DATA_DIR);
  const by = `cli:${userInfo().username}`;
  let cause: Error | undefined;
  if (config.SERVICES.includes('rules')) {
    const { openEmbeddedStore } = await import('../store/duckdb.ts');
    let store: Awaited<ReturnType<typeof openEmbeddedStore>> | undefined;
    try {
      store = await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log: createLogger('silent') });
    } catch (err) {
      cause = err as Error;
    }
    if (store) {
      try {
        const { createAccounts } = await import('../store/accounts.ts');
        const accounts = createAccounts({ state: store, audit: accountAudit(store, undefined) });
        return await work(localAccountAdmin(accounts, by));
      } finally {
        await store.close();
      }
    }
  }
  return work(accountAdminOverApi(`http://127.0.0.1:${config.HTTP_PORT}`, await adminToken(config, dataDir, cause)));
}
