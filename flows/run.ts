import { copyFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * Starts Node-RED 4 headless inside this process (no editor, no HTTP nodes: httpAdminRoot and
 * httpNodeRoot false), running the committed flows. The platform may start it optionally
 * (NODERED=1); docker-compose runs the same flows in the stock Node-RED image instead.
 *
 * The flows read every host and secret from the environment (`${MQTT_URL}`, `${MQTT_USER}`,
 * `${MQTT_PASSWORD}`, `${SMS_GATEWAY_URL}`, `${SMS_GATEWAY_TOKEN}`, `${EMAIL_API_URL}`,
 * `${EMAIL_API_TOKEN}`, `${EMAIL_TO}`): Node-RED substitutes whole-string `${VAR}` values in node
 * properties and in credentials. flows_cred.json is therefore kept unencrypted
 * (`credentialSecret: false`): it holds only those references, never a secret.
 */

export const FLOWS_DIR = new URL('.', import.meta.url).pathname;
export const REQUIRED_ENV = ['MQTT_URL', 'MQTT_USER', 'MQTT_PASSWORD', 'SMS_GATEWAY_URL', 'EMAIL_API_URL'] as const;

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
  env?: Record<string, string | undefined>;
}

let running = false;

export async function startNodeRed(opts: NodeRedOptions): Promise<NodeRedHandle> {
  const env = opts.env ?? process.env;
  const missing = REQUIRED_ENV.filter((k) => !env[k]);
  if (missing.length > 0) throw new Error(`Node-RED flows need ${missing.join(', ')} in the environment`);
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
  const settings = createRequire(import.meta.url)('./settings.cjs') as Record<string, unknown>;
  RED.init(createServer(), {
    ...settings,
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
