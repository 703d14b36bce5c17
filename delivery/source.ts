import type { AlertEvent } from '../contract/alert.ts';

/**
 * Where delivery channels get alert events from: each event once, deduplicated on (id, eventSeq).
 * The API's alert feed (api/alert-feed.ts, `createAlertFeed`) is one: it subscribes to
 * `huewatch/v1/alerts/#` and `huewatch/v1/ops/alerts/#` (alerts for operators only: each channel
 * checks `isOperatorsOnly` before it hands one on) and records what it handed on, so a retained copy seen again after a
 * restart is not delivered twice, and what changed while it was down is delivered once.
 */
export interface AlertSource {
  subscribe(listener: (item: { event: AlertEvent }) => void): () => void;
}
