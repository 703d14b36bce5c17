import { copyFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';

/**
 * Starts Node-RED 4 headless inside this process (no editor, no HTTP nodes: httpAdminRoot and
 * httpNodeRoot false), running the committed flows. The platform may start it optionally
 * (NODERED=1); docker-compose runs the same flows in the stock Node-RED image instead.
 *
 * The committed flows name every host and secret as `${VAR}` (flows/README.md). In their container
 * Node-RED finds those in its process environment; here the platform hands them over as an object,
 * so they become Node-RED's *global environment* instead: a `global-config` node added to the
 * flows as Node-RED reads them (never written to disk), whose env Node-RED consults before
 * process.env (@node-red/runtime flows/Flow.js, getSetting). The platform's own process
 * environment is left alone, and the broker password never lands in the userDir.
 */

export const FLOWS_DIR = new URL('.', import.meta.url).pathname;

/** What the flows read as `${VAR}`: the broker and its svc-nodered login, the gateways. */
export const flowSettings = z.object({
  MQTT_URL: z.string().min(1),
  MQTT_USER: z.string().min(1),
  MQTT_PASSWORD: z.string().min(1),
  SMS_GATEWAY_URL: z.url(),
  EMAIL_API_URL: z.url(),
  // optional: empty means no bearer token / no recipient (rather than the literal `${…}` text)
  SMS_GATEWAY_TOKEN: z.string().default(''),
  EMAIL_API_TOKEN: z.string().default(''),
  EMAIL_TO: z.string().default(''),
  // the API the flows ask for an alert's e-mail/SMS recipients, and their token for it; empty: operators get none
  HUEWATCH_API_URL: z.union([z.url(), z.literal('')]).default(''),
  HUEWATCH_API_TOKEN: z.string().default(''),
});
export type FlowSettings = z.infer<typeof flowSettings>;
export const REQUIRED_ENV = ['MQTT_URL', 'MQTT_USER', 'MQTT_PASSWORD', 'SMS_GATEWAY_URL', 'EMAIL_API_URL'] as const;

/** id of the in-memory `global-config` node that carries the settings */
const SETTINGS_NODE_ID = 'huewatch-flow-settings';

interface StorageModule {
  getFlows(): Promise<Array<{ id: string }>>;
  saveFlows(flows: Array<{ id: string }>, user?: unknown): Promise<void>;
}

/**
 * Node-RED's own file storage, except that the flows it reads carry the settings node, and the
 * flows it would save (it never does without an editor) do not.
 */
function storageWithSettings(settings: FlowSettings): StorageModule {
  const fileStorage = createRequire(import.meta.url)('@node-red/runtime/lib/storage/localfilesystem') as StorageModule;
  const node = { id: SETTINGS_NODE_ID, type: 'global-config', env: Object.entries(settings).map(([name, value]) => ({ name, value, type: 'str' })) };
  return {
    ...fileStorage,
    async getFlows() {
      return [...(await fileStorage.getFlows()).filter((n) => n.id !== SETTINGS_NODE_ID), node];
    },
    async saveFlows(flows, user) {
      return fileStorage.saveFlows(flows.filter((n) => n.id !== SETTINGS_NODE_ID), user);
    },
  };
}

/** The part of Node-RED's runtime API used here (node-red ships no TypeScript types). */
interface NodeRedRuntime {
  init(server: import('node:http').Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  nodes: { getNode(id: string): unknown };
}

export interface NodeRedHandle {
  stop(): Promise<void>;
  getNode(id: string): unknown;
}

export interface NodeRedOptions {
  /** Node-RED's working folder (copied flows, context): a folder under DATA_DIR */
  userDir: string;
  /** where flows.json and flows_cred.json are read from; default this folder */
  flowsDir?: string;
  log: Logger;
  /** the values of the flows' `${VAR}`s (extra keys are ignored, so an environment object will do) */
  settings: Record<string, string | undefined>;
}

let running = false;

export async function startNodeRed(opts: NodeRedOptions): Promise<NodeRedHandle> {
  const missing = REQUIRED_ENV.filter((k) => !opts.settings[k]);
  if (missing.length > 0) throw new Error(`Node-RED flows need ${missing.join(', ')}`);
  const settings = flowSettings.parse(opts.settings);
  // Node-RED's runtime is a module-level singleton: one per process.
  if (running) throw new Error('Node-RED is already running in this process');
  const log = opts.log.child({ module: 'nodered' });
  const flowsDir = opts.flowsDir ?? FLOWS_DIR;
  await mkdir(opts.userDir, { recursive: true });
  // Copies, so the runtime never rewrites the committed files.
  await copyFile(join(flowsDir, 'flows.json'), join(opts.userDir, 'flows.json'));
  await copyFile(join(flowsDir, 'flows_cred.json'), join(opts.userDir, 'flows_cred.json'));

  const RED = createRequire(import.meta.url)('node-red') as NodeRedRuntime;
  const toPino = (msg: { level: number; msg?: unknown; type?: string; id?: string }) => {
    // Node-RED levels: 10 fatal, 20 error, 30 warn, 40 info, 50 debug, 60 trace
    const text = typeof msg.msg === 'string' ? msg.msg : JSON.stringify(msg.msg);
    const fields = { node: msg.id, type: msg.type };
    if (msg.level <= 20) log.error(fields, text);
    else if (msg.level <= 30) log.warn(fields, text);
    else if (msg.level <= 40) log.info(fields, text);
    else log.debug(fields, text);
  };
  // The container's settings (flows/settings.cjs: the file context store the flow relies on), with
  // no editor and no HTTP nodes here, and Node-RED's log into ours.
  const base = createRequire(import.meta.url)('./settings.cjs') as Record<string, unknown>;
  RED.init(createServer(), {
    ...base,
    storageModule: storageWithSettings(settings),
    userDir: opts.userDir,
    flowFile: 'flows.json',
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    logging: { huewatch: { level: 'info', metrics: false, audit: false, handler: () => toPino } },
  });
  await RED.start();
  running = true;
  log.info({ userDir: opts.userDir }, 'Node-RED flows started');
  return {
    getNode: (id) => RED.nodes.getNode(id),
    async stop() {
      await RED.stop();
      running = false;
    },
  };
}
