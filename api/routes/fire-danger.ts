import type { FastifyInstance } from 'fastify';
import { fireIndexFromStore, levelOfP } from '../../rules/fire-danger.ts';
import { fireScaleOf } from '../../rules/fire-tick.ts';
import { loadStandards, type Standards } from '../../rules/standards.ts';
import type { ApiDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

const DAY = 86_400_000;
/** as the rules read it (rules/schema.ts fire-danger `lookback` default) */
const LOOKBACK_MS = 60 * DAY;

export interface FireDangerDeps extends Pick<ApiDeps, 'store' | 'stations' | 'clock'> {
  standards?: Pick<Standards, 'forest_fire_danger'>;
}

/**
 * `GET /api/v1/fire-danger`: today's forest-fire danger level (I–V) of each weather station's
 * district, with the Nesterov index P and the last days that made it, read from the store as the
 * rules read it (rules/fire-danger.ts): public, as the rangers' signboards are.
 */
export async function fireDangerRoutes(fastify: FastifyInstance, deps: FireDangerDeps) {
  const app = zodRoutes(fastify);
  const standards = deps.standards ?? loadStandards();
  const scale = fireScaleOf(standards);
  const levels = standards.forest_fire_danger.levels;
  const weather = deps.stations.filter((s) => s.kind === 'weather');

  app.get('/api/v1/fire-danger', { schema: { summary: "Forest-fire danger level (I–V) of each forested district today, from the Nesterov index", tags: ['stations'] } }, async () => {
    const now = deps.clock.now();
    const districts = await Promise.all(weather.map(async (s) => {
      const index = await fireIndexFromStore(deps.store, s.id, now, { ...scale, lookbackMs: LOOKBACK_MS });
      const level = levels[levelOfP(index.p, scale) - 1]!;
      return {
        station: s.id, name: s.name, district: s.areaName, lat: s.lat, lon: s.lon,
        p: index.p, level: level.level, roman: level.roman, levelName: { vi: level.vi, en: level.en }, colour: level.colour,
        lastReset: index.lastReset ?? null, missingDays: index.missingDays,
        days: index.days.slice(-7),
      };
    }));
    return { asOf: new Date(now).toISOString(), source: 'Nesterov index P = Σ T13 × d13 since the last day with ≥ ' + scale.resetRainMm + ' mm of rain; levels of Circular 25/2019/TT-BNNPTNT', districts };
  });
}
