/**
 * SensorThings API over many stored readings: how long typical partner requests take when a store
 * holds a million Observations (`node --import tsx bench/sta.ts [readings]`, default 1,000,000).
 * Figures to compare between runs, never pass/fail. Real DuckDB (in memory), fastify inject.
 */
import Fastify from 'fastify';
import { installErrorHandler } from '../api/errors.ts';
import { staRoutes } from '../api/sta/routes.ts';
import { silentLogger } from '../lib/log.ts';
import { DEFAULT_STATIONS_FILE, loadStations } from '../lib/stations.ts';
import { openEmbeddedStore } from '../store/duckdb.ts';
import type { StoredReading } from '../store/types.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const stations = loadStations(DEFAULT_STATIONS_FILE).filter((s) => s.kind === 'river' || s.kind === 'rain');
const MINUTE = 60_000;
const now = Date.now();
const perStream = Math.ceil(total / stations.length);

const store = await openEmbeddedStore({ file: ':memory:', log: silentLogger() });
const t0 = performance.now();
for (const s of stations) {
  const metric = s.kind === 'river' ? 'water_level' : 'rainfall';
  for (let start = 0; start < perStream; start += 50_000) {
    const rows: StoredReading[] = [];
    for (let i = start; i < Math.min(perStream, start + 50_000); i++) rows.push({ station: s.id, device: `${s.id}-01`, metric, ts: now - i * MINUTE, value: (i % 500) / 100, quality: 'ok' });
    await store.writeReadings(rows);
  }
}
console.log(`sta: wrote ${perStream * stations.length} readings in ${stations.length} Datastreams (${Math.round(perStream / 1440)} days at 1/min) in ${Math.round(performance.now() - t0)} ms`);

const app = Fastify();
installErrorHandler(app);
await app.register(async (scope) => staRoutes(scope, { stations, store, clock: { now: () => now } }));
await app.ready();

const ds = `${stations[0]!.id}:water_level`;
const day = new Date(now - 30 * 1440 * MINUTE).toISOString();
const requests = [
  `/Datastreams('${ds}')/Observations?$top=100`,
  `/Datastreams('${ds}')/Observations?$top=100&$skip=10000`,
  `/Datastreams('${ds}')/Observations?$top=100&$orderby=phenomenonTime asc`,
  `/Datastreams('${ds}')/Observations?$count=true&$top=1`,
  `/Datastreams('${ds}')/Observations?$filter=phenomenonTime ge ${day} and phenomenonTime lt ${new Date(Date.parse(day) + 86_400_000).toISOString()} and result gt 4&$count=true`,
  '/Observations?$top=100',
  '/Things?$expand=Datastreams($expand=Observations($top=1))',
];
for (const url of requests) {
  const times: number[] = [];
  let status = 0;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const res = await app.inject({ url: `/sta/v1.1${url.replace(/ /g, '%20')}` });
    times.push(performance.now() - t);
    status = res.statusCode;
  }
  times.sort((a, b) => a - b);
  console.log(`sta: ${url}  →  ${status}, median ${times[2]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms (5 runs)`);
}
await app.close();
await store.close();
