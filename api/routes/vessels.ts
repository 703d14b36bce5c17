import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../contract/errors.ts';
import type { VesselPosition } from '../../store/types.ts';
import type { VesselReads } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { instant } from '../query.ts';
import { zodRoutes } from '../openapi.ts';

/** A track longer than this must be asked for in pieces: it bounds the reply. */
export const MAX_TRACK_POINTS = 20_000;
/** Default track window when `from` is absent. */
export const DEFAULT_TRACK_MS = 24 * 3_600_000;

export interface VesselRouteDeps {
  vessels: VesselReads;
  clock?: { now(): number };
  /** e.g. `requireRole('viewer')`: vessel positions are for fisheries officers, not the public */
  auth?: preHandlerAsyncHookHandler;
}

const bbox = z
  .string()
  .transform((s) => s.split(',').map(Number))
  .refine((a) => a.length === 4 && a.every(Number.isFinite), 'expected minLon,minLat,maxLon,maxLat')
  .refine(([w, s, e, n]) => w! >= -180 && e! <= 180 && s! >= -90 && n! <= 90 && w! <= e! && s! <= n!, 'expected minLon,minLat,maxLon,maxLat within range and ordered')
  .transform(([minLon, minLat, maxLon, maxLat]) => ({ minLon: minLon!, minLat: minLat!, maxLon: maxLon!, maxLat: maxLat! }));
const listQuery = z.object({ bbox: bbox.optional(), since: instant.optional() });
const trackQuery = z.object({ from: instant.optional(), to: instant.optional() });

const iso = (ms: number) => new Date(ms).toISOString();
const positionJson = (p: VesselPosition) => ({
  ts: iso(p.ts), lat: p.lat, lon: p.lon, sog: p.sog ?? null, cog: p.cog ?? null, heading: p.heading ?? null, source: p.source,
});

/**
 * `GET /api/v1/vessels` (latest positions; `bbox`, `since`), `GET /api/v1/vessels/:id`,
 * `GET /api/v1/vessels/:id/track?from&to` (a GeoJSON Feature, LineString in [lon, lat] order,
 * RFC 7946 §3.1.4; with fewer than two fixes the geometry is null, since a LineString needs two).
 */
export async function vesselRoutes(fastify: FastifyInstance, deps: VesselRouteDeps) {
  const app = zodRoutes(fastify);
  const clock = deps.clock ?? Date;
  const opts = deps.auth ? { preHandler: deps.auth } : {};
  const vesselParams = z.object({ id: z.string().describe('vessel id: its registration number or MMSI') });

  app.get('/api/v1/vessels', { ...opts, schema: { summary: 'Latest position of each vessel (bbox, since)', tags: ['vessels'], querystring: listQuery } }, async (req) => {
    const q = req.query;
    const vessels = await deps.vessels.list({ ...(q.bbox ? { bbox: q.bbox } : {}), ...(q.since !== undefined ? { since: q.since } : {}) });
    vessels.sort((a, b) => a.vesselId.localeCompare(b.vesselId));
    return { count: vessels.length, vessels: vessels.map((v) => ({ ...v.info, position: positionJson(v) })) };
  });

  app.get('/api/v1/vessels/:id', { ...opts, schema: { summary: 'A vessel with its latest position', tags: ['vessels'], params: vesselParams } }, async (req) => {
    const v = await deps.vessels.get(req.params.id);
    if (!v) throw new ApiError(404, ErrorCode.NOT_FOUND, `no vessel "${req.params.id}"`);
    return { ...v.info, position: v.position ? positionJson(v.position) : null };
  });

  app.get('/api/v1/vessels/:id/track', { ...opts, schema: { summary: 'A vessel\'s track as a GeoJSON LineString Feature (from, to)', tags: ['vessels'], params: vesselParams, querystring: trackQuery } }, async (req) => {
    const q = req.query;
    if (!(await deps.vessels.get(req.params.id))) throw new ApiError(404, ErrorCode.NOT_FOUND, `no vessel "${req.params.id}"`);
    const to = q.to ?? clock.now();
    const from = q.from ?? to - DEFAULT_TRACK_MS;
    if (from >= to) throw new ApiError(400, ErrorCode.BAD_REQUEST, 'from: must be before to');
    const fixes = await deps.vessels.track(req.params.id, from, to, MAX_TRACK_POINTS + 1);
    if (fixes.length > MAX_TRACK_POINTS) throw new ApiError(400, ErrorCode.BAD_REQUEST, `more than ${MAX_TRACK_POINTS} fixes; ask for a shorter range`);
    return {
      type: 'Feature',
      geometry: fixes.length >= 2 ? { type: 'LineString', coordinates: fixes.map((p) => [p.lon, p.lat]) } : null,
      properties: {
        vesselId: req.params.id,
        from: iso(from),
        to: iso(to),
        count: fixes.length,
        times: fixes.map((p) => iso(p.ts)),
        sog: fixes.map((p) => p.sog ?? null),
        source: fixes.map((p) => p.source),
      },
    };
  });
}
