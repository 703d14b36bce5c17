import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Bus } from '../../contract/bus.ts';
import { ErrorCode } from '../../contract/errors.ts';
import { sosRequest } from '../../contract/sos.ts';
import { ID_PATTERN, subscriptions, TOPIC_ROOT, topics } from '../../contract/topics.ts';
import { ThrottledLog } from '../../lib/throttled-log.ts';
import type { SosDesk } from './desk.ts';
import { SosRateLimited, type SosLimits } from './limits.ts';

/** one log line per app and interval for refused calls: a looping app must not drown the log */
export const SOS_MQTT_LOG_INTERVAL_MS = 60_000;
/** an SOS body is a few hundred bytes; anything far bigger is not one */
const MAX_PAYLOAD_BYTES = 8 * 1024;

const SOS_PREFIX = `${TOPIC_ROOT}/sos/`;

/** The answer an app reads on `huewatch/v1/devices/{deviceId}/sos` (contract/topics.ts `sosAnswer`). */
export type SosMqttAnswer =
  | { id: string; token: string; status: string; district: string | null; alerts: unknown[]; track: string }
  | { error: { code: string; message: string } };

/**
 * Residents' SOS over MQTT (issue #15.3): a registered app (`huewatch device add <id> --app`, which
 * the broker lets publish only on `huewatch/v1/sos/{id}`, broker/acl.ts) sends the same JSON body as
 * POST /api/v1/sos; this validates it, counts it against the same per-device limit as HTTP (the
 * shared SosLimits, keyed by the registered device id the topic names), submits it to the desk and
 * answers on the app's own answer topic (QoS 1, not retained). A bad call is counted, logged at
 * most once per app and interval, and answered with an error; it never stops the calls of others.
 */
export function createSosMqtt(deps: { bus: Bus; desk: Pick<SosDesk, 'submit'>; limits: SosLimits; metrics: Registry; log: Logger; clock?: { now(): number } }) {
  const log = deps.log.child({ module: 'sos-mqtt' });
  const clock = deps.clock ?? Date;
  const refusedLog = new ThrottledLog(log, SOS_MQTT_LOG_INTERVAL_MS, () => clock.now());
  const received = new Counter({ name: 'huewatch_sos_mqtt_calls_total', help: 'SOS calls from apps over MQTT, by result (accepted, invalid, rate_limited, failed)', labelNames: ['result'], registers: [deps.metrics] });
  // every message a handler has not finished: stop() waits for their answers
  const inFlight = new Set<Promise<void>>();

  const answer = (deviceId: string, body: SosMqttAnswer) =>
    deps.bus.publishAsync(topics.sosAnswer(deviceId), JSON.stringify(body), { qos: 1, retain: false }).catch((err: unknown) => {
      log.warn({ err, deviceId }, 'could not answer an SOS call');
    });

  async function handle(deviceId: string, payload: Buffer): Promise<void> {
    const refuse = async (result: 'invalid' | 'rate_limited' | 'failed', code: string, message: string) => {
      received.inc({ result });
      refusedLog.warn(`${deviceId}:${result}`, { deviceId, result, problem: message }, 'SOS call over MQTT refused');
      await answer(deviceId, { error: { code, message } });
    };
    let body: unknown;
    try {
      if (payload.length > MAX_PAYLOAD_BYTES) throw new Error(`payload of ${payload.length} bytes (at most ${MAX_PAYLOAD_BYTES})`);
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return refuse('invalid', ErrorCode.PAYLOAD_INVALID, `not an SOS call: ${(err as Error).message}`);
    }
    const parsed = sosRequest.safeParse(body);
    if (!parsed.success) {
      // each problem with the field it is about, as the HTTP path's 400 names them
      return refuse('invalid', ErrorCode.PAYLOAD_INVALID, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    try {
      await deps.limits.consume({ appDevice: deviceId });
    } catch (err) {
      if (!(err instanceof SosRateLimited)) throw err;
      return refuse('rate_limited', ErrorCode.RATE_LIMITED, `${err.message} (again in ${err.retryAfterS} s)`);
    }
    let submitted;
    try {
      submitted = await deps.desk.submit(parsed.data);
    } catch (err) {
      log.error({ err, deviceId }, 'SOS call over MQTT could not be recorded');
      return refuse('failed', ErrorCode.INTERNAL, 'the SOS could not be recorded: call 112');
    }
    const { record, token } = submitted;
    received.inc({ result: 'accepted' });
    log.info({ sos: record.id, deviceId }, 'SOS call received over MQTT');
    await answer(deviceId, { id: record.id, token, status: record.status, district: record.district, alerts: record.alerts, track: `/api/v1/sos/${record.id}/track` });
  }

  function onMessage(topic: string, payload: Buffer) {
    // the bus may be shared with other listeners in this process: only our topics
    if (!topic.startsWith(SOS_PREFIX)) return;
    const deviceId = topic.slice(SOS_PREFIX.length);
    if (!ID_PATTERN.test(deviceId)) return;
    const p = handle(deviceId, payload).catch((err: unknown) => log.error({ err, deviceId }, 'SOS call over MQTT failed'));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }

  return {
    async start() {
      deps.bus.on('message', onMessage);
      const [granted] = await deps.bus.subscribeAsync(subscriptions.allSos, { qos: 1 });
      if (!granted || granted.qos === 128) throw new Error(`the broker refused the API's subscription to ${subscriptions.allSos}`);
    },
    async stop() {
      deps.bus.off('message', onMessage);
      await deps.bus.unsubscribeAsync(subscriptions.allSos).catch(() => undefined);
      await Promise.all([...inFlight]);
    },
  };
}
