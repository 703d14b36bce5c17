import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { StoreConfig } from './config.ts';
import type { EmbeddedStore } from './duckdb.ts';
import { openInfluxStore, type InfluxStore } from './influx.ts';
import { withAutoResolution } from './resolution.ts';
import { openSpoolingStore, type SpoolingStore, type StoreProblem } from './spool.ts';
import type { RetentionPolicy, SequencedReadings, TimeSeriesStore } from './types.ts';

const DAY_MS = 86_400_000;

export interface TimeSeries {
  /** for readers (API, rules warm-up): the store itself */
  reads: TimeSeriesStore;
  /** for ingest: the store behind the on-disk spool when `spool` was asked for, else the store */
  writes: TimeSeriesStore;
  /** what keeps readings from the store right now (they are spooled meanwhile): for /health */
  problems(): StoreProblem[];
  /** what devices sent with a seq, from the store itself: ingest's duplicate check is warmed from it */
  sequenced: SequencedReadings;
  close(): Promise<void>;
}

/**
 * The time-series side of a process from its config (STORE=embedded|influx). The spool is opened
 * only where ingest runs (`spool: true`): its file DATA_DIR/spool.duckdb has one owner, so each
 * ingest worker needs its own DATA_DIR. InfluxDB is not contacted here: ingest starts, and spools,
 * while it is down. Where ingest runs, the downsampling and retention job runs too (every
 * DOWNSAMPLE_INTERVAL_MS): the writer knows which time ranges it changed. Reads pick their
 * resolution by the span (store/resolution.ts).
 */
export async function openTimeSeries(opts: {
  config: StoreConfig;
  dataDir: string;
  /** the process's embedded store, when it has one (STORE=embedded needs it) */
  embedded: EmbeddedStore | undefined;
  spool: boolean;
  log: Logger;
  metrics: Registry;
}): Promise<TimeSeries> {
  const { config, log } = opts;
  let influx: InfluxStore | undefined;
  let primary: TimeSeriesStore & SequencedReadings;
  if (config.STORE === 'influx') {
    influx = await openInfluxStore({
      url: config.INFLUX_URL!, token: config.INFLUX_TOKEN, org: config.INFLUX_ORG, bucket: config.INFLUX_BUCKET, log, metrics: opts.metrics,
      ...(config.INFLUX_DATABASE ? { database: config.INFLUX_DATABASE } : {}),
      ...(config.INFLUX_RETENTION_POLICY ? { retentionPolicy: config.INFLUX_RETENTION_POLICY } : {}),
    });
    primary = influx;
  } else {
    if (!opts.embedded) throw new Error('STORE=embedded: this process has no embedded database (STATE_URL is set); set STORE=influx');
    primary = opts.embedded;
  }
  let spool: SpoolingStore | undefined;
  try {
    if (opts.spool) {
      spool = await openSpoolingStore({
        primary, file: join(opts.dataDir, 'spool.duckdb'), maxRows: config.SPOOL_MAX_ROWS,
        primaryTimeoutMs: config.SPOOL_WRITE_TIMEOUT_MS, log, metrics: opts.metrics,
      });
    }
  } catch (err) {
    await influx?.close();
    throw err;
  }
  const retention: RetentionPolicy = {
    rawMs: config.RETENTION_RAW_DAYS * DAY_MS, hourlyMs: config.RETENTION_HOURLY_DAYS * DAY_MS, dailyMs: config.RETENTION_DAILY_DAYS * DAY_MS,
  };
  let job: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  if (opts.spool) {
    job = setInterval(() => {
      running ??= primary.downsample(Date.now(), retention)
        .catch((err: unknown) => log.warn({ err: String(err) }, 'downsampling failed; the next run covers it'))
        .finally(() => { running = undefined; });
    }, config.DOWNSAMPLE_INTERVAL_MS);
    job.unref();
  }
  return {
    reads: withAutoResolution(primary),
    writes: spool ?? primary,
    problems: () => spool?.problems() ?? [],
    sequenced: primary,
    async close() {
      clearInterval(job);
      await running;
      await spool?.close();
      await influx?.close();
    },
  };
}
