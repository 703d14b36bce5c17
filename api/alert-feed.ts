import { EventEmitter } from 'node:events';
import type { Bus } from '../contract/bus.ts';
import type { Logger } from 'pino';
import { alertEvent, subscriptions, type AlertEvent } from '../contract/index.ts';
import type { StateStore } from '../store/types.ts';

export interface FeedItem {
  /** monotonically increasing per API process: the SSE event id clients resume from */
  streamId: number;
  event: AlertEvent;
}

/**
 * The residents' tree and the operators' (contract/topics.ts): the feed hands on both; each
 * channel decides who may see an alert for operators only (`isOperatorsOnly`).
 */
const ALERT_TREES = [subscriptions.allAlerts, subscriptions.opsAlerts].map((f) => f.slice(0, -1));

/** Where the feed records, per alert id, the last eventSeq it handed to the channels. */
export const FEED_NAMESPACE = 'alert-feed';
/** a key no alert id takes (they are UUIDs, or manual-UUID): the record exists from the first start on */
const STARTED = '~started';

/**
 * The API's view of the alert topics: every alert event the rules engine publishes, once. Events
 * are deduplicated on (id, eventSeq), so a retained copy re-published after a restart or received
 * again on subscribe is not a new event. The last `historySize` items are kept for SSE resume
 * (Last-Event-ID); older ones are gone and a resuming client is told to reload.
 *
 * What it handed on is recorded in the state store (FEED_NAMESPACE), not inferred from the alerts
 * the store holds: when this process was down (a split deployment, the api container restarting)
 * the alerts raised or changed meanwhile are in the store but never reached the channels. At
 * start each alert whose current eventSeq is past the record is handed on once, in the order sent
 * (a Cancel too, though MQTT's retained copy of it is gone). Without a record (the first start)
 * everything already in the store counts as handed on.
 */
export function createAlertFeed(deps: { mqtt: Bus; state: Pick<StateStore, 'listAlerts' | 'listJson' | 'putJson' | 'writeJsonBatch'>; log: Logger; historySize?: number }) {
  const log = deps.log.child({ module: 'alert-feed' });
  const historySize = deps.historySize ?? 1000;
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0); // one listener per SSE client; the SSE route bounds their number
  const lastSeq = new Map<string, number>();
  const history: FeedItem[] = [];
  let nextStreamId = 1;

  function handOn(event: AlertEvent) {
    if ((lastSeq.get(event.id) ?? 0) >= event.eventSeq) return;
    lastSeq.set(event.id, event.eventSeq);
    if (lastSeq.size > 100_000) lastSeq.delete(lastSeq.keys().next().value as string);
    const item: FeedItem = { streamId: nextStreamId++, event };
    history.push(item);
    if (history.length > historySize) history.shift();
    emitter.emit('item', item);
    // after the channels took it (each persists its own outbox entry first): a crash before this
    // write hands the event on again at start, never not at all
    deps.state.putJson(FEED_NAMESPACE, event.id, event.eventSeq).catch((err: unknown) => log.warn({ err, id: event.id }, 'could not record an alert event as handed on'));
  }

  function onMessage(topic: string, payload: Buffer) {
    if (!ALERT_TREES.some((prefix) => topic.startsWith(prefix)) || payload.length === 0) return; // empty = retained cleared
    let event: AlertEvent;
    try {
      event = alertEvent.parse(JSON.parse(payload.toString('utf8')));
    } catch (err) {
      log.warn({ topic, err }, 'alert event that does not match the contract ignored');
      return;
    }
    handOn(event);
  }

  return {
    /** Call once the channels have subscribed: what was missed while down is handed on here. */
    async start() {
      const recorded = await deps.state.listJson<number>(FEED_NAMESPACE);
      const alerts = await deps.state.listAlerts();
      if (recorded.length === 0) {
        // first start: what the store holds counts as handed on, and is recorded as such
        for (const a of alerts) lastSeq.set(a.id, a.eventSeq);
        await deps.state.writeJsonBatch(FEED_NAMESPACE, [{ key: STARTED, value: Date.now() }, ...alerts.map((a) => ({ key: a.id, value: a.eventSeq }))]);
      } else {
        for (const { key, value } of recorded) if (key !== STARTED) lastSeq.set(key, value);
        const missed = alerts.filter((a) => a.eventSeq > (lastSeq.get(a.id) ?? 0)).sort((a, b) => Date.parse(a.sent) - Date.parse(b.sent));
        if (missed.length > 0) log.info({ missed: missed.length }, 'handing on alert events raised while this process was down');
        for (const a of missed) handOn(a);
      }
      deps.mqtt.on('message', onMessage);
      for (const filter of [subscriptions.allAlerts, subscriptions.opsAlerts]) {
        const granted = await deps.mqtt.subscribeAsync(filter, { qos: 1 });
        // 0x80: refused by the broker's ACL [MQTT-3.9.3]; the feed would silently miss those alerts
        if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${filter} refused by the broker`);
      }
    },
    async stop() {
      deps.mqtt.off('message', onMessage);
      emitter.removeAllListeners();
    },
    /** items after `streamId`, or undefined if some of them are no longer kept */
    since(streamId: number): FeedItem[] | undefined {
      const first = history[0];
      if (streamId >= nextStreamId - 1) return [];
      if (!first || first.streamId > streamId + 1) return undefined;
      return history.filter((i) => i.streamId > streamId);
    },
    get lastStreamId() {
      return nextStreamId - 1;
    },
    subscribe(listener: (item: FeedItem) => void): () => void {
      emitter.on('item', listener);
      return () => emitter.off('item', listener);
    },
  };
}
export type AlertFeed = ReturnType<typeof createAlertFeed>;
