import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../platform/main.ts';
import { influxql, startInfluxd, startV2WriteShim, type RestartableServer, type WriteShim } from '../store/test-servers.ts';
import { startTestPlatform, tempDir, waitFor } from './helpers.ts';

/**
 * Every InfluxDB query of every provisioned dashboard, run against the store the dashboards read
 * after the platform has written to it: `huewatch` with STORE=influx and the simulator on (river
 * and rain stations, the Modbus dam PLCs, the fishing fleet) writing to influxd 1.6.7. The
 * dashboards use InfluxQL (datasource `huewatch-influx`, version InfluxQL), which 1.6.7 runs
 * as Grafana would send it, with Grafana's macros expanded: `$timeFilter` → `time > now() - 6h`
 * (the dashboards' default range), `$__interval` → `1m`. Each query must return at least one row.
 * The Prometheus panels (platform health) are run by test/dashboards.prometheus.test.ts against a
 * real Prometheus scraping a running platform.
 */
const JSON_DIR = new URL('../dashboards/json/', import.meta.url).pathname;

interface Target { refId: string; datasource?: { uid?: string }; query?: string }
interface Panel { title?: string; targets?: Target[]; panels?: Panel[] }

function influxQueries(): Array<{ dashboard: string; panel: string; refId: string; query: string }> {
  const out: Array<{ dashboard: string; panel: string; refId: string; query: string }> = [];
  for (const folder of readdirSync(JSON_DIR)) {
    for (const file of readdirSync(join(JSON_DIR, folder))) {
      const d = JSON.parse(readFileSync(join(JSON_DIR, folder, file), 'utf8')) as { uid: string; panels: Panel[]; annotations?: { list?: Target[] } };
      const walk = (panels: Panel[]) => {
        for (const p of panels) {
          for (const t of p.targets ?? []) if (t.datasource?.uid === 'huewatch-influx') out.push({ dashboard: d.uid, panel: p.title ?? '', refId: t.refId, query: t.query! });
          walk(p.panels ?? []);
        }
      };
      walk(d.panels);
      for (const a of d.annotations?.list ?? []) if (a.datasource?.uid === 'huewatch-influx') out.push({ dashboard: d.uid, panel: 'annotation', refId: '-', query: a.query! });
    }
  }
  return out;
}

/** Grafana's InfluxQL macros, as Grafana expands them for the default range of the last 6 h */
const expand = (q: string) => q.replaceAll('$timeFilter', 'time > now() - 6h').replaceAll('$__interval', '1m');

describe('every dashboard query against InfluxDB the platform writes to', () => {
  let influxd: RestartableServer;
  let shim: WriteShim;
  let data: Awaited<ReturnType<typeof tempDir>>;
  let platform: Platform;
  const DB = 'dashboards';
  const rows = async (q: string) => {
    const body = await influxql(influxd.url, expand(q), { db: DB });
    return (body.results ?? []).flatMap((r) => r.series ?? []).reduce((n, s) => n + (s.values?.length ?? 0), 0);
  };
  const queries = influxQueries();

  beforeAll(async () => {
    influxd = await startInfluxd();
    // TEST ADAPTER: influxd 1.6.7 has no /api/v2/write, which the platform's writer uses (store/test-servers.ts)
    shim = await startV2WriteShim(influxd.url);
    await influxql(influxd.url, `CREATE DATABASE "${DB}"`);
    data = await tempDir('huewatch-dashboards-');
    platform = await startTestPlatform(data.dir, {
      STORE: 'influx', INFLUX_URL: shim.url, INFLUX_BUCKET: DB,
      SIM: '1', MODBUS: '1', SIM_INTERVAL_MS: '500', SIM_SPEED: '600',
    });
  }, 60_000);

  afterAll(async () => {
    await platform?.stop();
    await shim?.stop();
    await influxd?.stop();
    await data?.cleanup();
  });

  it('finds InfluxQL queries in every dashboard that reads InfluxDB', () => {
    expect(new Set(queries.map((q) => q.dashboard))).toEqual(new Set(['huewatch-rivers', 'huewatch-reservoirs', 'huewatch-rainfall', 'huewatch-air', 'huewatch-fisheries', 'huewatch-platform']));
  });

  it('answers every query with rows once the simulated stations, PLCs and vessels have reported', async () => {
    const empty = new Set(queries.map((q) => `${q.dashboard} / ${q.panel} / ${q.refId}: ${q.query}`));
    // poll until every query has rows (the simulator reports every 500 ms), or report which never did
    await waitFor(async () => {
      for (const q of queries) {
        const key = `${q.dashboard} / ${q.panel} / ${q.refId}: ${q.query}`;
        if (empty.has(key) && (await rows(q.query)) > 0) empty.delete(key);
      }
      return empty.size === 0;
    }, 60_000, 'rows for every query').catch(() => undefined);
    expect([...empty]).toEqual([]);
  }, 90_000);
});
