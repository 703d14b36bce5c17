import { z } from 'zod';
import { storeConfigSchema } from '../store/config.ts';
import { ErrorCode } from '../contract/errors.ts';
import { deviceQuotaSchema } from '../broker/device-quota.ts';
import { scenarioName } from '../firmware-sim/scenarios.ts';
import { faultList } from '../firmware-sim/faults.ts';
import { secretWeakness } from '../lib/secret-strength.ts';

/**
 * Platform configuration from environment variables (documented in README and .env.example).
 * Parsed once at start, every problem listed by key, then frozen and passed in as an argument.
 */
const port = z.coerce.number().int().min(0).max(65535);
const flag = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));
const secret = z.string().min(16, 'must be at least 16 characters');

export const SERVICES = ['broker', 'ingest', 'rules', 'api'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const configSchema = z.object({
  HUEWATCH_ENV: z.enum(['development', 'production']).default('development'),
  /** interface the MQTT and HTTP listeners bind; 0.0.0.0 to let field devices in */
  HOST: z.string().default('127.0.0.1'),
  MQTT_PORT: port.default(1883),
  /** MQTT over WebSocket, path /mqtt (residents' apps, browsers) */
  MQTT_WS_PORT: port.default(9001),
  /**
   * interface of the plain (unencrypted) MQTT and MQTT/WS listeners; default HOST. 127.0.0.1
   * keeps passwords in clear off the network while HOST=0.0.0.0 lets devices in over TLS
   */
  MQTT_PLAIN_HOST: z.string().optional(),
  /** mqtts (MQTT over TLS) and MQTT over secure WebSocket (path /mqtt): listened on only with TLS_CERT_FILE and TLS_KEY_FILE */
  MQTT_TLS_PORT: port.default(8883),
  MQTT_WSS_PORT: port.default(8884),
  /** PEM certificate and private key of the TLS listeners, read again on SIGHUP (a renewal drops no session) */
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  /** PEM intermediate CA chain, sent after the certificate (optional) */
  TLS_CA_FILE: z.string().optional(),
  /** when the broker runs elsewhere (services split across processes) */
  MQTT_URL: z.url().optional(),
  HTTP_PORT: port.default(8080),
  /** /health and /metrics (and, in a rules process without the API, the internal RPC) of a process that does not run the API */
  OPS_PORT: port.default(8081),
  DATA_DIR: z.string().default('data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** which services this process runs (comma-separated) */
  SERVICES: z
    .string()
    .default(SERVICES.join(','))
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(SERVICES)).min(1)),
  SIM: flag.default(true),
  /** calm, flood, or a recorded flood replayed: flood-2017, flood-2020, flood-2025 (firmware-sim/floods) */
  SIM_SCENARIO: scenarioName.default('flood'),
  /** simulated seconds per real second: 60 plays an hour of river in a minute */
  SIM_SPEED: z.coerce.number().positive().default(60),
  SIM_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
  /** faults injected into simulated stations, `station:fault,…` (firmware-sim/faults.ts), e.g. `kim-long:stuck,rg-hue:duplicate` */
  SIM_FAULTS: faultList.optional(),
  STATIONS_FILE: z.string().optional(),
  RULES_FILE: z.string().optional(),
  MAX_PAYLOAD_BYTES: z.coerce.number().int().min(256).max(16 * 1024 * 1024).default(64 * 1024),
  /**
   * Per-device publish quota (broker/device-quota.ts, broker/README.md "Per-device quota"): sustained
   * messages and payload bytes a second, and what a device may send at once above them (a
   * store-and-forward flush). Over it QoS 0 is dropped and QoS 1 slowed; 0 turns a rate off.
   */
  DEVICE_MAX_MSGS_PER_S: z.coerce.number().nonnegative().default(deviceQuotaSchema.shape.msgsPerS.parse(undefined)),
  DEVICE_MSGS_BURST: z.coerce.number().int().positive().default(deviceQuotaSchema.shape.msgsBurst.parse(undefined)),
  DEVICE_MAX_BYTES_PER_S: z.coerce.number().nonnegative().default(deviceQuotaSchema.shape.bytesPerS.parse(undefined)),
  DEVICE_BYTES_BURST: z.coerce.number().int().positive().default(deviceQuotaSchema.shape.bytesBurst.parse(undefined)),
  /** residents' apps connect without credentials and may only read alerts and observations */
  MQTT_ALLOW_ANONYMOUS: flag.default(true),
  /**
   * MQTT 3.1.1 conformance profile (broker/README.md "Conformance profile"): anonymous clients may
   * publish and subscribe in a test tree (every topic outside `huewatch/`), as conformance suites
   * expect. For running such suites only: refused with HUEWATCH_ENV=production.
   */
  MQTT_CONFORMANCE: flag.default(false),
  SVC_INGEST_SECRET: secret.optional(),
  SVC_RULES_SECRET: secret.optional(),
  SVC_API_SECRET: secret.optional(),
  SVC_NODERED_SECRET: secret.optional(),
  /** bearer token of the admin role (device management) */
  ADMIN_TOKEN: secret.optional(),
  /** HTTP bearer token of the platform's own services: device lookups (STATE_URL) and the rules process's internal RPC (RULES_URL) */
  SVC_TOKEN: secret.optional(),

  // the readings store, its spool, retention and downsampling (store/config.ts)
  ...storeConfigSchema.shape,
  /**
   * Where a process without the rules engine (e.g. a separate broker or ingest) looks devices up:
   * the ops listener of the rules process, which owns the state database, or an API (both serve
   * `GET /api/v1/devices/:id` to SVC_TOKEN). Default: RULES_URL.
   */
  STATE_URL: z.url().optional(),
  /**
   * The ops listener of the rules process (OPS_PORT), for an API process that does not run the
   * rules engine: state, operator actions, vessels and device registration are called there.
   */
  RULES_URL: z.url().optional(),

  /** bearer tokens of the operator (acknowledge, cancel, manual alerts, release orders) and viewer roles */
  OPERATOR_TOKEN: secret.optional(),
  VIEWER_TOKEN: secret.optional(),
  /** how long a console sign-in (session cookie) lasts, in hours */
  SESSION_TTL_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
  /** the session cookie's Secure attribute: auto = when the request came over https (or PUBLIC_BASE_URL is https) */
  SESSION_COOKIE_SECURE: z.enum(['auto', '1', '0', 'true', 'false']).default('auto'),
  /** failed console sign-ins of one name within 15 minutes that lock it out for 15 minutes (per address: 4 times as many) */
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  /** web console: optional XYZ tile layer under the map; the map never needs the internet without it */
  CONSOLE_TILE_URL: z.string().optional(),
  /** the public address of the API, for links in CAP messages and the Atom feed */
  PUBLIC_BASE_URL: z.url().optional(),
  /** CAP 1.2 §3.2.1 sender (no spaces, commas, < or &) */
  CAP_SENDER: z.string().regex(/^[^\s,<&]+$/, 'no spaces, commas, < or &').optional(),
  /** partner webhooks (YAML/JSON: endpoints with url and a secret from the environment) */
  WEBHOOKS_FILE: z.string().optional(),
  /** residents' SOS: the rescue units calls are assigned to (default config/rescue-units.yaml) */
  RESCUE_UNITS_FILE: z.string().optional(),
  /** residents' SOS: days a closed call keeps the caller's phone, position and words */
  SOS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /** Web Push VAPID keys (RFC 8292); generated once into DATA_DIR in development, required in production */
  VAPID_PUBLIC_KEY: z.string().optional(),
  VAPID_PRIVATE_KEY: z.string().optional(),
  VAPID_SUBJECT: z.string().optional(),
  /** start the Node-RED flows of flows/ inside this process (they need SMS_GATEWAY_URL and EMAIL_API_URL) */
  NODERED: flag.default(false),
  SMS_GATEWAY_URL: z.url().optional(),
  EMAIL_API_URL: z.url().optional(),
  /**
   * bearer token the Node-RED flows present to ask who wants an alert by e-mail or SMS
   * (GET /api/v1/alerts/{id}/recipients, that route only); default generated into DATA_DIR
   */
  NODERED_API_TOKEN: secret.optional(),
  /** where the flows reach the API (a Node-RED container: http://huewatch:8080); default this process's API */
  HUEWATCH_API_URL: z.url().optional(),
  /** poll the Modbus devices of MODBUS_FILE (default config/modbus.yaml); with SIM on, the simulated PLCs are polled instead */
  MODBUS: flag.default(false),
  MODBUS_FILE: z.string().optional(),
  /** the vessel registry (default config/vessels.yaml) */
  VESSELS_FILE: z.string().optional(),
  /**
   * Brokers share retained messages, sessions and QoS 1 queues in this Redis (and route messages
   * through it), so several broker processes serve one fleet (broker/README.md "More than one
   * broker"). Unset: one broker, its state on disk in DATA_DIR/broker. Also makes ingest subscribe
   * with `$share/ingest/…`.
   */
  REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, 'a redis:// or rediss:// URL').optional(),
  /** ingest workers split the telemetry by a shared subscription ($share/ingest/…); on whenever REDIS_URL is set */
  INGEST_SHARED: flag.default(false),
  /** this ingest worker's name in its MQTT client id (svc-ingest-{name}), stable across restarts so its session is kept; default: the host name */
  INGEST_WORKER: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, '1-40 letters, digits, _ . -').optional(),
  /** how often brokers sharing REDIS_URL tell each other they are alive (a dead one's shared-subscription members are dropped after 3 missed) */
  BROKER_HEARTBEAT_MS: z.coerce.number().int().min(500).max(600_000).default(5_000),
});
export type Config = Readonly<z.output<typeof configSchema>>;

/** Every configuration problem, one line each naming the key, its value and what is expected. */
export class ConfigError extends Error {
  readonly code = ErrorCode.CONFIG_INVALID;
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const SECRET_KEYS = ['SVC_INGEST_SECRET', 'SVC_RULES_SECRET', 'SVC_API_SECRET', 'SVC_NODERED_SECRET', 'ADMIN_TOKEN', 'SVC_TOKEN'] as const;
const VAPID_KEYS = ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'] as const;
const NODERED_KEYS = ['SMS_GATEWAY_URL', 'EMAIL_API_URL'] as const;

/** `A, B are unset: required when …` for the keys of `keys` that are not set (none: nothing) */
function requiredWhen(config: Record<string, unknown>, keys: readonly string[], when: string): string[] {
  const missing = keys.filter((k) => config[k] === undefined);
  if (missing.length === 0) return [];
  return [`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} unset: required when ${when}`];
}

/** Parses the environment; throws one ConfigError listing every bad key. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant = Object.fromEntries(Object.keys(configSchema.shape).filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]));
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    // one line per key, its first problem: zod may say several things about one value
    const byKey = new Map<string, string>();
    for (const i of parsed.error.issues) {
      const key = String(i.path[0] ?? '(env)');
      if (!byKey.has(key)) byKey.set(key, `${key}=${JSON.stringify(relevant[key] ?? '')}: ${i.message.replace(/^Invalid input: /, '')}`);
    }
    throw new ConfigError([...byKey.values()]);
  }
  const config = parsed.data;
  const problems: string[] = [];
  if (config.STORE === 'influx') problems.push(...requiredWhen(config, ['INFLUX_URL'], 'STORE=influx'));
  // The state database (DuckDB, one process per file) belongs to the process that runs the rules
  // engine; every other process reaches it over HTTP (README "Running the services apart").
  const run = new Set(config.SERVICES);
  if (!run.has('rules')) {
    if (run.has('api')) problems.push(...requiredWhen(config, ['RULES_URL'], 'this process runs api without rules (the ops listener of the rules process, e.g. http://rules:8081)'));
    if ((run.has('broker') || run.has('ingest')) && !config.STATE_URL && !config.RULES_URL) {
      problems.push('STATE_URL is unset: required when this process runs broker or ingest without rules (where devices are looked up, e.g. http://rules:8081)');
    }
    if (config.STORE === 'embedded' && (run.has('ingest') || run.has('api'))) {
      // the readings would live in the rules process's file
      problems.push('STORE="embedded": a process without the rules engine has no embedded database to write or read readings; set STORE=influx');
    }
  } else if (config.STORE === 'embedded' && !run.has('ingest')) {
    problems.push('STORE="embedded": rules without ingest in this process would read an embedded store that no other process can write; set STORE=influx');
  }
  // a certificate needs its key and the other way round
  if (config.TLS_CERT_FILE || config.TLS_KEY_FILE) problems.push(...requiredWhen(config, ['TLS_CERT_FILE', 'TLS_KEY_FILE'], 'either is set (the TLS listeners need both)'));
  if (config.TLS_CA_FILE && !config.TLS_CERT_FILE) problems.push(...requiredWhen(config, ['TLS_CERT_FILE'], 'TLS_CA_FILE is set'));
  // the flows send every alert to both (flows/run.ts)
  if (config.NODERED) problems.push(...requiredWhen(config, NODERED_KEYS, 'NODERED=1 (the Node-RED flows send alerts to both)'));
  // DESIGN.md: production refuses to start with default or missing secrets.
  if (config.HUEWATCH_ENV === 'production') {
    problems.push(...requiredWhen(config, SECRET_KEYS, 'HUEWATCH_ENV=production'));
    // a secret a guesser could find is no secret (lib/secret-strength.ts); the value is never echoed
    for (const key of [...SECRET_KEYS, 'OPERATOR_TOKEN', 'VIEWER_TOKEN', 'NODERED_API_TOKEN'] as const) {
      const value = config[key];
      const weakness = value === undefined ? undefined : secretWeakness(value);
      if (weakness) problems.push(`${key}: too weak for HUEWATCH_ENV=production: ${weakness} (make one with: openssl rand -base64 32)`);
    }
    // an open test tree for anonymous clients has no place on a province's broker
    if (config.MQTT_CONFORMANCE) problems.push('MQTT_CONFORMANCE=1: the conformance profile opens a topic tree to anonymous clients; refused when HUEWATCH_ENV=production');
    // Web Push is the API's (delivery/webpush.ts): development generates the keys, production must keep its own
    if (run.has('api')) problems.push(...requiredWhen(config, VAPID_KEYS, 'HUEWATCH_ENV=production (Web Push keys; npx web-push generate-vapid-keys)'));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** A file the deployment edits (rule file, Modbus map) refused with its problems' positions (lib/yaml-source.ts). */
const sourceProblems = z.object({ problems: z.array(z.object({ file: z.string(), line: z.number(), col: z.number(), path: z.string(), message: z.string() })).min(1) });

/**
 * The lines to show for a configuration mistake, or undefined when `err` is not one: a bad
 * environment variable (ConfigError), or a configuration file refused with its problems.
 */
export function configProblems(err: unknown): readonly string[] | undefined {
  if (err instanceof ConfigError) return err.problems;
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  const isConfigCode = code === ErrorCode.CONFIG_INVALID || code === ErrorCode.RULES_INVALID;
  const sourced = sourceProblems.safeParse(err);
  if (sourced.success) return sourced.data.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path ? p.path + ': ' : ''}${p.message}`);
  if (isConfigCode) return err.message.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim());
  return undefined;
}
