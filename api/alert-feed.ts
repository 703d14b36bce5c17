import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { alertEvent, subscriptions, type AlertEvent } from '../contract/index.ts';
import type { StateStore } from '../store/types.ts';

export interface FeedItem {
  /** monotonically increasing per API process: the SSE event id clients resume from */
  streamId: number;
  event: AlertEvent;
}

/**
 * The API's view of the alerts topic: every alert event the rules engine publishes, once. Events
 * are deduplicated on (id, eventSeq), so a retained copy re-published after a restart or received
 * again on subscribe is not a new event. The last `historySize` items are kept for SSE resume
 * (Last-Event-ID); older ones are gone and a resuming client is told to reload.
 */
export function createAlertFeed(deps: { mqtt: MqttClient; state: Pick<StateStore, 'listAlerts'>; log: Logger; historySize?: number }) {
  const log = deps.log.child({ module: 'alert-feed' });
  const historySize = deps.historySize ?? 1000;
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0); // one listener per SSE client; the SSE route bounds their number
  const lastSeq = new Map<string, number>();
  const history: FeedItem[] = [];
  let nextStreamId = 1;

  function onMessage(topic: string, payload: Buffer) {
    if (!topic.startsWith(subscriptions.allAlerts.slice(0, -1)) || payload.length === 0) return; // empty = retained cleared
    let event: AlertEvent;
    try {
      event = alertEvent.parse(JSON.parse(payload.toString('utf8')));
    } catch (err) {
      log.warn({ topic, err }, 'alert event that does not match the contract ignored');
      return;
    }
    if ((lastSeq.get(event.id) ?? 0) >= event.eventSeq) return;
    lastSeq.set(event.id, event.eventSeq);
    if (lastSeq.size > 100_000) lastSeq.delete(lastSeq.keys().next().value as string);
    const item: FeedItem = { streamId: nextStreamId++, event };
    history.push(item);
    if (history.length > historySize) history.shift();
    emitter.emit('item', item);
  }

  return {
    async start() {
      // Seed from the store so that what was sent before this process started is not "new".
      for (const a of await deps.state.listAlerts()) lastSeq.set(a.id, a.eventSeq);
      deps.mqtt.on('message', onMessage);
      await deps.mqtt.subscribeAsync(subscriptions.allAlerts, { qos: 1 });
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
