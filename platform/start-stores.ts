import { join } from 'node:path';
import type { StateStore } from '../store/types.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import { openTimeSeries } from '../store/open.ts';
import { createDeviceDirectory } from './device-directory.ts';
import { remoteRules, type SharedState } from './rules-rpc.ts';
import type { StartContext } from './start-context.ts';

/**
 * The stores of one process. Platform state lives in the embedded file, which DuckDB lets one
 * process open: the process running the rules engine. Elsewhere devices are looked up at STATE_URL
 * (else RULES_URL), and an API calls the rules process's objects at RULES_URL (config.ts refuses
 * anything else).
 */
export async function openStores(c: StartContext) {
  const { config, dataDir, run, secrets, log, metrics } = c;
  const local = run.has('rules') ? await openEmbeddedStore({ file: join(dataDir, 'huewatch.duckdb'), log, metrics }) : undefined;
  if (local) c.onStop(() => local.close());
  const devices: Pick<StateStore, 'getDevice'> & { forget?(id: string): void } = local ?? createDeviceDirectory({ url: (config.STATE_URL ?? config.RULES_URL)!, token: secrets.serviceToken, log });
  const remote = !local && run.has('api') ? remoteRules(config.RULES_URL!, secrets.serviceToken) : undefined;
  // the state the API and delivery channels use: the local file, or the rules process's
  const shared: SharedState | undefined = local ?? remote?.state;
  // a broker alone keeps no readings
  const series = run.has('ingest') || run.has('rules') || run.has('api')
    ? await openTimeSeries({ config, dataDir, embedded: local, spool: run.has('ingest'), log, metrics })
    : undefined;
  if (series) c.onStop(() => series.close());
  return { local, devices, remote, shared, series };
}
export type Stores = Awaited<ReturnType<typeof openStores>>;
