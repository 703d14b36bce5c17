import type { Logger } from 'pino';
import type { Bus } from '../contract/bus.ts';
import { deviceStatus, parseTopic, statusPayload, subscriptions, type DeviceStatus } from '../contract/index.ts';
import type { StateStore } from '../store/types.ts';

/** Where the latest status of each device is kept, keyed by device id. */
export const DEVICE_STATUS_NAMESPACE = 'device-status';

/**
 * Devices' online/offline state from `huewatch/v1/status/{id}` (DESIGN.md wire contract): what a
 * device publishes retained when it connects (`{"online":true,…}`) and its last will
 * (`{"online":false}`), which the broker publishes when the connection ends without a DISCONNECT
 * [MQTT-3.1.2-8]. The status topic is the truth here, not the broker's sessions: it reaches this
 * service in every deployment (in one process over the local bus, apart over MQTT), where only
 * the broker's own process sees the sessions.
 *
 * Each device's record carries the time `online` last changed. Records are kept in the state store
 * so a restart keeps that time: the retained status received again on subscribe is no change.
 */
export function createDeviceStatus(deps: {
  mqtt: Bus;
  state: Pick<StateStore, 'listJson' | 'writeJsonBatch'>;
  log: Logger;
  clock?: { now(): number };
}) {
  const log = deps.log.child({ module: 'device-status' });
  const clock = deps.clock ?? Date;
  const byDevice = new Map<string, DeviceStatus>();
  // records not yet written; one batch in flight at a time, so a burst of wills is one write
  const pending = new Map<string, DeviceStatus>();
  let writing: Promise<void> | undefined;

  function flush(): Promise<void> {
    if (writing || pending.size === 0) return writing ?? Promise.resolve();
    const batch = [...pending.entries()].map(([key, value]) => ({ key, value }));
    pending.clear();
    writing = deps.state
      .writeJsonBatch(DEVICE_STATUS_NAMESPACE, batch)
      .catch((err: unknown) => log.warn({ err, devices: batch.length }, 'could not record device status'))
      .finally(() => {
        writing = undefined;
        void flush();
      });
    return writing;
  }

  function onMessage(topic: string, payload: Buffer, packet?: { retain?: boolean }) {
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'status' || payload.length === 0) return; // empty = retained status cleared
    let status;
    try {
      status = statusPayload.parse(JSON.parse(payload.toString('utf8')));
    } catch (err) {
      log.warn({ topic, err }, 'device status that does not match the contract ignored');
      return;
    }
    const held = byDevice.get(parsed.id);
    // the broker's retained copy, handed over again on (re)subscribing (it survives a broker
    // restart now): the same status as held is nothing new from the device
    if (packet?.retain && held && held.online === status.online && (status.fw === undefined || status.fw === held.fw) && (status.battery_v === undefined || status.battery_v === held.battery_v)) return;
    const now = new Date(clock.now()).toISOString();
    const record: DeviceStatus = {
      deviceId: parsed.id,
      online: status.online,
      changedAt: held && held.online === status.online ? held.changedAt : now,
      seenAt: now,
      // a will carries no detail: keep what the device last said of itself
      ...((status.fw ?? held?.fw) !== undefined ? { fw: status.fw ?? held?.fw } : {}),
      ...((status.battery_v ?? held?.battery_v) !== undefined ? { battery_v: status.battery_v ?? held?.battery_v } : {}),
    };
    byDevice.set(parsed.id, record);
    pending.set(parsed.id, record);
    void flush();
  }

  return {
    async start() {
      for (const { key, value } of await deps.state.listJson<unknown>(DEVICE_STATUS_NAMESPACE)) {
        const r = deviceStatus.safeParse(value);
        if (r.success) byDevice.set(key, r.data);
        else log.warn({ deviceId: key }, 'stored device status that does not match the contract ignored');
      }
      deps.mqtt.on('message', onMessage);
      await deps.mqtt.subscribeAsync(subscriptions.allStatus, { qos: 1 });
    },
    /** stops listening and writes what is still pending */
    async stop() {
      deps.mqtt.off('message', onMessage);
      await deps.mqtt.unsubscribeAsync(subscriptions.allStatus).catch(() => undefined);
      while (writing || pending.size > 0) await flush();
    },
    /** the status of each of `deviceIds` (never reported: online null), in that order */
    list(deviceIds: readonly string[]): DeviceStatus[] {
      return deviceIds.map((id) => byDevice.get(id) ?? { deviceId: id, online: null, changedAt: null, seenAt: null });
    },
  };
}
export type DeviceStatusService = ReturnType<typeof createDeviceStatus>;
