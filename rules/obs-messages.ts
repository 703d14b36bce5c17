import { observation, type Observation } from '../contract/obs.ts';
import { parseTopic } from '../contract/topics.ts';
import type { Logger } from '../lib/log.ts';
import type { EngineMetrics } from './engine-metrics.ts';

/**
 * The bus's `huewatch/v1/obs/{station}` messages into observations for `handle`; a bad one is
 * counted, logged and dropped. Ignored while the engine is not running.
 */
export function obsMessageHandler(d: { running(): boolean; handle(obs: Observation): void; m: EngineMetrics; log: Logger }): (topic: string, payload: Buffer) => void {
  return function onMessage(topic, payload) {
    if (!d.running()) return;
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'obs') return;
    let obs: Observation;
    try {
      const result = observation.safeParse(JSON.parse(payload.toString('utf8')));
      if (!result.success) throw new Error(result.error.issues[0]?.message ?? 'invalid');
      if (result.data.station !== parsed.id) throw new Error(`station ${result.data.station} does not match the topic`);
      obs = result.data;
    } catch (err) {
      d.m.obsInvalid.inc();
      d.log.warn({ topic, problem: (err as Error).message }, 'observation dropped');
      return;
    }
    d.handle(obs);
  };
}
