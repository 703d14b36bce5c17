import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode, metricName } from '../../contract/index.ts';
import { AGGREGATES } from '../../store/types.ts';
import { ApiError } from '../errors.ts';
import { duration, instant } from '../query.ts';
import type { ApiDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

/** Raw ranges longer than this must be aggregated: a browser cannot draw more, and it bounds the reply. */
export const MAX_SERIES_POINTS = 20_000;

const seriesQuery = z.object({
  metric: metricName,
  from: instant.optional(),
  to: instant.optional(),
  every: duration.optional(),
  fn: z.enum(AGGREGATES).optional(),
});

const stationParams = z.object({ id: z.string().describe('station id, e.g. kim-long') });

export async function stationRoutes(fastify: FastifyInstance, deps: ApiDeps) {
  const app = zodRoutes(fastify);
  const byId = new Map(deps.stations.map((s) => [s.id, s]));
  const stationOr404 = (id: string) => {
    const s = byId.get(id);
    if (!s) throw new ApiError(404, ErrorCode.NOT_FOUND, `no station "${id}"`);
    return s;
  };

  app.get('/api/v1/stations', { schema: { summary: 'The station catalogue', tags: ['stations'] } }, async () => ({ stations: deps.stations }));

  app.get('/api/v1/stations/:id', { schema: { summary: 'A station with the latest value of each metric', tags: ['stations'], params: stationParams } }, async (req) => {
    const station = stationOr404(req.params.id);
    const latest = await deps.store.latest(station.id);
    return {
      ...station,
      // health of the Modbus devices polled for this station (last good poll, errors, latency)
      ...(deps.modbus ? { devices: deps.modbus.stationHealth(station.id) } : {}),
      latest: Object.fromEntries(latest.map((l) => [l.metric, { value: l.value, ts: new Date(l.ts).toISOString(), quality: l.quality, device: l.device }])),
    };
  });

  app.get('/api/v1/stations/:id/series', {
    schema: { summary: 'A range of one metric, raw or aggregated (every, fn)', tags: ['stations'], params: stationParams, querystring: seriesQuery },
  }, async (req) => {
    const station = stationOr404(req.params.id);
    const q = req.query;
    const to = q.to ?? deps.clock.now();
    const from = q.from ?? to - 24 * 3_600_000;
    if (from >= to) throw new ApiError(400, ErrorCode.BAD_REQUEST, 'from: must be before to');
    if (q.every !== undefined && (to - from) / q.every > MAX_SERIES_POINTS) {
      throw new ApiError(400, ErrorCode.BAD_REQUEST, `every: more than ${MAX_SERIES_POINTS} buckets; choose a larger interval`);
    }
    const points = await deps.store.series({ station: station.id, metric: q.metric, from, to, ...(q.every ? { every: q.every, fn: q.fn ?? 'mean' } : {}) });
    if (points.length > MAX_SERIES_POINTS) {
      throw new ApiError(400, ErrorCode.BAD_REQUEST, `more than ${MAX_SERIES_POINTS} raw points; add every= to aggregate`);
    }
    return {
      station: station.id,
      metric: q.metric,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      every: q.every ?? null,
      fn: q.every ? (q.fn ?? 'mean') : null,
      points: points.map((p) => ({ ts: new Date(p.ts).toISOString(), value: p.value })),
    };
  });
}
