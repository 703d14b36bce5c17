import type { MqttClient } from 'mqtt';
import { Counter, Histogram, type Registry } from 'prom-client';
import { topics } from '../contract/topics.ts';
import type { Reading } from '../contract/telemetry.ts';
import type { TimeSeriesStore } from '../store/types.ts';
import { normaliseReading } from './normalise.ts';

/**
 * Where every validated reading goes, whatever brought it (MQTT telemetry, the Modbus poller):
 * normalised with quality flags, written to the store, then published as observations on
 * `huewatch/v1/obs/{stationId}` in observation-time order (the rules engine relies on it per
 * station). Resolves once the write is done, so callers can acknowledge only then.
 */
export function createReadingSink(deps: { mqtt: MqttClient; store: TimeSeriesStore; metrics: Registry }) {
  const metric = <T>(name: string, make: () => T): T => (deps.metrics.getSingleMetric(name) as T | undefined) ?? make();
  const stored = metric('huewatch_ingest_readings_stored_total', () =>
    new Counter({ name: 'huewatch_ingest_readings_stored_total', help: 'Metric values written to the store', registers: [deps.metrics] }),
  );
  const writeSeconds = metric('huewatch_ingest_write_seconds', () =>
    new Histogram({
      name: 'huewatch_ingest_write_seconds',
      help: 'Time to write one batch of readings to the store',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [deps.metrics],
    }),
  );

  return async function accept(deviceId: string, station: string, readings: readonly Reading[]): Promise<void> {
    const batch = readings.map((r) => normaliseReading(r, deviceId, station));
    const rows = batch.flatMap((b) => b.rows);
    const end = writeSeconds.startTimer();
    await deps.store.writeReadings(rows);
    end();
    stored.inc(rows.length);
    for (const { obs } of batch.sort((a, b) => a.obs.ts - b.obs.ts)) {
      deps.mqtt.publish(topics.obs(obs.station), JSON.stringify(obs), { qos: 1 });
    }
  };
}
export type ReadingSink = ReturnType<typeof createReadingSink>;
