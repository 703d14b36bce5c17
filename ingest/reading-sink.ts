import type { Bus } from '../contract/bus.ts';
import type { Observation } from '../contract/obs.ts';
import { topics } from '../contract/topics.ts';
import type { Reading } from '../contract/telemetry.ts';
import type { StoredReading } from '../store/types.ts';
import type { GroupCommit } from './group-commit.ts';
import { normaliseReading } from './normalise.ts';

export interface ReadingSinkDeps {
  /** the group commit every reading joins (ingest/group-commit.ts) */
  commit: Pick<GroupCommit, 'add'>;
  /** the rules engine of this process, fed directly (no bus between services of one process) */
  observe?: (obs: Observation) => void;
  /** where observations are published for other processes and live views (`obs/{station}`) */
  bus?: Pick<Bus, 'publishAsync'>;
  /** a publish the bus refused (it is down): the observation is still stored */
  onPublishError?: (err: unknown) => void;
  /** the receive clock: each observation carries when it arrived (`receivedAt`), default Date.now */
  now?: () => number;
}

/**
 * Where every validated reading goes, whatever brought it (MQTT telemetry, the Modbus poller):
 * normalised with quality flags, handed to the rules beside the durable write (not behind it, so
 * an alert never waits for a backlog of writes), published as observations on
 * `huewatch/v1/obs/{stationId}` in observation-time order (the rules rely on it per station), and
 * joined to the next group commit. Resolves once the rows are durable, so callers acknowledge
 * only then. A reading evaluated but not yet durable when the process dies is resent by its
 * device (no PUBACK) and ignored by the rules as already seen.
 */
export function createReadingSink(deps: ReadingSinkDeps) {
  const onError = deps.onPublishError ?? (() => undefined);
  const now = deps.now ?? Date.now;
  return function accept(deviceId: string, station: string, readings: readonly Reading[]): Promise<'stored' | 'refused'> {
    let rows: StoredReading[];
    let observations: Observation[];
    const receivedAt = now();
    if (readings.length === 1) {
      const one = normaliseReading(readings[0]!, deviceId, station, receivedAt);
      rows = one.rows;
      observations = [one.obs];
    } else {
      const batch = readings.map((r) => normaliseReading(r, deviceId, station, receivedAt));
      rows = batch.flatMap((b) => b.rows);
      observations = batch.map((b) => b.obs).sort((a, b) => a.ts - b.ts);
    }
    const durable = deps.commit.add(rows);
    for (const obs of observations) {
      deps.observe?.(obs);
      deps.bus?.publishAsync(topics.obs(obs.station), JSON.stringify(obs), { qos: 1 }).catch(onError);
    }
    return durable;
  };
}
export type ReadingSink = ReturnType<typeof createReadingSink>;
