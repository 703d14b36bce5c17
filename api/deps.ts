import type { preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Station } from '../contract/station.ts';
import type { StateStore, TimeSeriesStore } from '../store/types.ts';
import type { AlertFeed } from './alert-feed.ts';
import type { DeviceStatusService } from './device-status.ts';
import type { Access, ApiToken, AuthOptions } from './auth.ts';
import type { OperatorActions } from '../rules/operator-actions.ts';
import type { StormArea, StormAreaInput } from '../rules/vessels/storm.ts';
import type { WriteResult } from '../ingest/modbus/poller.ts';
import type { CapOptions } from '../delivery/cap.ts';
import type { WebPushDelivery } from '../delivery/webpush.ts';
import type { VesselQuery } from '../ingest/vessels/service.ts';
import type { DeliveryMetrics } from '../delivery/metrics.ts';
import type { AlertEvent } from '../contract/alert.ts';
import type { Rule } from '../rules/schema.ts';
import type { DeviceAdmin } from '../lib/devices.ts';
import type { Accounts } from '../store/accounts.ts';
import type { LoginGuard } from '../lib/login-guard.ts';
import type { OperatorPush } from '../delivery/operator-push.ts';
import type { SosDesk } from './sos/desk.ts';
import type { SosLimits } from './sos/limits.ts';

/*
 * What the API is built from (ApiOptions) and what its routes get (ApiDeps). Kept apart from
 * server.ts so that server.ts imports the routes and the routes import this, never server.ts.
 */

/** declares a storm area (api/routes/storms.ts): the vessels inside get an alert */
export type DeclareStorm = (input: StormAreaInput, user: string) => Promise<{ area: StormArea; vessels: string[] }>;

/** the Web Push subscriptions of api/routes/push.ts */
export type PushAccess = Pick<WebPushDelivery, 'subscribe' | 'unsubscribe' | 'publicKey' | 'update' | 'find' | 'unknownAreas' | 'areas'>;

type Eventually<T> = T | Promise<T>;
/** The vessel query of api/routes/vessels.ts: in process (synchronous list and get) or the rules process's over RPC (all async). */
export interface VesselReads {
  list(filter?: Parameters<VesselQuery['list']>[0]): Eventually<ReturnType<VesselQuery['list']>>;
  get(vesselId: string): Eventually<ReturnType<VesselQuery['get']>>;
  track: VesselQuery['track'];
}

/** the Modbus register writes of api/routes/modbus.ts */
export interface ModbusRouteDeps {
  writeRegister(deviceId: string, registerName: string, value: number): Promise<WriteResult>;
}

export interface ApiOptions {
  store: TimeSeriesStore;
  /** the state store, or the rules process's over RPC (platform/rules-rpc.ts STATE_METHODS) */
  state: Pick<StateStore, 'getDevice' | 'listDevices' | 'getAlert' | 'alertHistory' | 'listAlerts' | 'listJson'>;
  stations: readonly Station[];
  feed: AlertFeed;
  metrics: Registry;
  log: Logger;
  tokens: readonly ApiToken[];
  /** sha256 hex of the services' bearer tokens: they may read the device directory, nothing else */
  serviceTokens?: readonly string[];
  /** sha256 hex of the Node-RED flows' bearer tokens: they may ask an alert's e-mail/SMS recipients, nothing else */
  recipientsTokens?: readonly string[];
  /** the device registry's operations (platform/devices.ts, or the rules process's over RPC) */
  devices: DeviceAdmin;
  clock?: { now(): number };
  /** the rules engine's operator actions (in this process, or the rules process's over RPC) */
  operator?: OperatorActions;
  /** CAP sender and base URL for /cap (defaults: DEFAULT_CAP_OPTIONS) */
  cap?: CapOptions;
  push?: PushAccess;
  publishManualAlert?(event: AlertEvent): Promise<void>;
  vessels?: VesselReads;
  declareStorm?: DeclareStorm;
  /** the Modbus poller of this process: register writes, and device health in a station's status */
  modbus?: ModbusRouteDeps & { stationHealth(stationId: string): unknown[] };
  /** per-channel delivery counters and latency (SSE and CAP are counted here) */
  deliveryMetrics?: DeliveryMetrics;
  /** what degrades the platform without stopping it (e.g. the store down, readings spooled): /health says so */
  degraded?: () => unknown[];
  /** devices' online/offline state with the time of the change (api/device-status.ts) */
  deviceStatus?: Pick<DeviceStatusService, 'list'>;
  /** the rules in force: GET /api/v1/alerts/quality measures alerts per rule (routes/alert-quality.ts) */
  rules?: () => readonly Rule[];
  /** people's accounts (store/accounts.ts): their tokens and console sessions, /api/v1/session, /users, /me */
  accounts?: Accounts;
  /** Web Push to operators' browsers, honouring their preferences (delivery/operator-push.ts) */
  operatorPush?: Pick<OperatorPush, 'subscribe' | 'unsubscribe' | 'publicKey'>;
  /** limits console sign-ins per address and name (default: LOGIN_MAX_FAILURES' defaults) */
  loginGuard?: LoginGuard;
  /** the session cookie's Secure attribute (config SESSION_COOKIE_SECURE; default auto) */
  secureCookie?: boolean | 'auto';
  /** residents' SOS calls (api/sos/desk.ts): where the state store is in this process */
  sos?: SosDesk;
  /** the SOS rate limits, shared with the MQTT path (api/sos/limits.ts); without it the routes keep their own */
  sosLimits?: SosLimits;
  /** web console options; the console is served at / */
  console?: { tileUrl?: string };
  /** the broker's ports, listed as SensorThings' MQTT endpoints on the host the client asked (api/sta/routes.ts) */
  staMqtt?: { port?: number; wsPort?: number };
}

export interface ApiDeps extends Omit<ApiOptions, 'tokens' | 'clock'> {
  clock: { now(): number };
  /** a role, or `anyone` (identifies a token holder, lets anonymous callers through) */
  requireRole(access: Access, opts?: AuthOptions): preHandlerAsyncHookHandler;
}
