import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode } from '../../contract/errors.ts';
import type { Station } from '../../contract/station.ts';
import type { TimeSeriesStore } from '../../store/types.ts';
import { ApiError } from '../errors.ts';
import { ENTITY_SETS, TYPES, buildCatalogue, observationEntity, parseObservationId, type Catalogue, type Entity, type EntitySet } from './model.ts';
import { QuerySyntaxError, parseQueryOptions, type QueryOptions } from './parser.ts';
import { DEFAULT_TOP, MAX_TOP, formatEntity, navigationSource, pageJson, readCollection, selfLink, type Source, type StaContext } from './query.ts';

/**
 * OGC SensorThings API 1.1, read-only (api/sta/README.md): `/sta/v1.1/…` resource paths
 * (18-088 §9.2) with the query options of §9.3. Left out of the OpenAPI document: the standard
 * describes these paths (test/openapi.test.ts).
 */

export const STA_PREFIX = '/sta/v1.1';

export const CONFORMANCE = [
  'http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel',
  'http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities',
  'http://www.opengis.net/spec/iot_sensing/1.1/req/request-data',
  'http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates',
] as const;

export interface StaRouteDeps {
  stations: readonly Station[];
  store: Pick<TimeSeriesStore, 'series' | 'count'>;
  clock: { now(): number };
  /** the broker's ports: the root document lists mqtt://{host}:{port} and ws://{host}:{wsPort}/mqtt on the host the client asked */
  mqtt?: { port?: number; wsPort?: number };
}

export async function staRoutes(app: FastifyInstance, deps: StaRouteDeps): Promise<void> {
  const catalogue = buildCatalogue(deps.stations);
  const context = (req: FastifyRequest): StaContext => ({
    catalogue, store: deps.store, now: deps.clock.now(), base: `${req.protocol}://${req.host}${STA_PREFIX}`,
  });
  const hide = { schema: { hide: true } };
  // open data for partners' web pages too: anonymous, read-only, no cookies read (this plugin's routes only)
  app.addHook('onSend', async (_req, reply) => {
    void reply.header('access-control-allow-origin', '*');
  });

  const root = async (req: FastifyRequest) => {
    const ctx = context(req);
    return {
      value: ENTITY_SETS.map((name) => ({ name, url: `${ctx.base}/${name}` })),
      serverSettings: {
        conformance: CONFORMANCE,
        'http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates': { endpoints: mqttEndpoints(req.hostname, deps.mqtt) },
      },
    };
  };
  app.get(STA_PREFIX, hide, root);
  app.get(`${STA_PREFIX}/`, hide, root);
  app.get(`${STA_PREFIX}/*`, hide, async (req, reply) => {
    const ctx = context(req);
    const [rawPath, rawQuery = ''] = (req.raw.url ?? '').slice(STA_PREFIX.length + 1).split('?', 2) as [string, string?];
    let opts: QueryOptions;
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
      opts = parseQueryOptions(new URLSearchParams(rawQuery).entries());
    } catch (e) {
      throw bad(e);
    }
    if (opts.top !== undefined && opts.top > MAX_TOP) throw new ApiError(400, ErrorCode.BAD_REQUEST, `$top: at most ${MAX_TOP}`);
    try {
      const target = await resolve(path, catalogue, ctx);
      switch (target.kind) {
        case 'collection':
          if (target.ref) {
            const page = await readCollection(target.source, { ...opts, select: ['@iot.selfLink'] }, target.link, ctx);
            return pageJson(page);
          }
          return pageJson(await readCollection(target.source, opts, target.link, ctx));
        case 'entity':
          if (opts.filter || opts.orderby || opts.top !== undefined || opts.skip !== undefined || opts.count !== undefined) {
            throw new QuerySyntaxError('$filter, $orderby, $top, $skip and $count apply to collections, not to one entity');
          }
          if (target.ref) return { '@iot.selfLink': selfLink(ctx, target.entity) };
          return await formatEntity(target.entity, opts, ctx);
        case 'property': {
          const v = target.entity.props[target.name] ?? null;
          if (target.value) {
            // $value: the raw value, as text (18-088 §9.2.6)
            void reply.type('text/plain; charset=utf-8');
            return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
          }
          if (v === null) return reply.code(204).send();
          return { [target.name]: v };
        }
      }
    } catch (e) {
      throw bad(e);
    }
  });
}

function mqttEndpoints(hostname: string, ports: StaRouteDeps['mqtt']): string[] {
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  return [
    ...(ports?.port !== undefined ? [`mqtt://${host}:${ports.port}`] : []),
    ...(ports?.wsPort !== undefined ? [`ws://${host}:${ports.wsPort}/mqtt`] : []),
  ];
}

function bad(e: unknown): unknown {
  if (e instanceof QuerySyntaxError) return new ApiError(400, ErrorCode.BAD_REQUEST, e.message);
  if (e instanceof URIError) return new ApiError(400, ErrorCode.BAD_REQUEST, 'the path is not valid percent-encoding');
  return e;
}

type Target =
  | { kind: 'collection'; source: Source; link: string; ref?: boolean }
  | { kind: 'entity'; entity: Entity; ref?: boolean }
  | { kind: 'property'; entity: Entity; name: string; value: boolean };

const notFound = (what: string) => new ApiError(404, ErrorCode.NOT_FOUND, what);

/** `Things('kim-long')` → ['Things', 'kim-long']; `Things(1)` → ['Things', '1'] */
function splitSegment(seg: string): { name: string; id?: string } {
  const m = /^([A-Za-z]+)(?:\((?:'((?:[^']|'')*)'|(\d+))\))?$/.exec(seg);
  if (!m) throw new QuerySyntaxError(`'${seg}' is not a resource path segment (e.g. Things or Things('kim-long'))`);
  const id = m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3];
  return { name: m[1]!, ...(id !== undefined ? { id } : {}) };
}

/** Resource paths of 18-088 §9.2: a set, an entity, its navigation properties, a property, $value, $ref. */
async function resolve(path: string, catalogue: Catalogue, ctx: StaContext): Promise<Target> {
  const segs = path.split('/').filter((s, i, all) => s !== '' || i < all.length - 1);
  if (segs.length === 0 || segs[0] === '') throw notFound('no such resource');
  const first = splitSegment(segs[0]!);
  if (!(ENTITY_SETS as readonly string[]).includes(first.name)) throw notFound(`no entity set '${first.name}'`);
  const set = first.name as EntitySet;
  let current: Target;
  if (first.id === undefined) {
    current = { kind: 'collection', source: setSource(set, catalogue), link: `${ctx.base}/${set}` };
  } else {
    current = { kind: 'entity', entity: await getEntity(set, first.id, catalogue, ctx) };
  }
  for (const raw of segs.slice(1)) {
    if (raw === '$ref') {
      if (current.kind === 'property') throw new QuerySyntaxError('$ref follows an entity or a collection');
      current = { ...current, ref: true };
      continue;
    }
    if (current.kind === 'property') {
      if (raw !== '$value' || current.value) throw notFound(`nothing below ${current.name}`);
      current = { kind: 'property', entity: current.entity, name: current.name, value: true };
      continue;
    }
    if (current.kind === 'collection') throw notFound(`'${raw}': address an entity of the collection first, e.g. Things('id')/Datastreams`);
    if (current.ref) throw notFound('nothing below $ref');
    const e: Entity = current.entity;
    const seg = splitSegment(raw);
    const type = TYPES[e.set];
    const nav = type.navs[seg.name];
    if (nav && !nav.many) {
      if (seg.id !== undefined) throw notFound(`${seg.name} is a single entity: no id after it`);
      const target: Entity | undefined = catalogue.related(e, seg.name)[0];
      if (!target) throw notFound(`${e.set}('${e.id}') has no ${seg.name}`);
      current = { kind: 'entity', entity: target };
    } else if (nav) {
      const source = navigationSource(e, seg.name, catalogue);
      if (seg.id !== undefined) {
        const target: Entity = await getEntity(nav.target, seg.id, catalogue, ctx);
        const belongs = source.kind === 'memory' ? source.entities.includes(target) : source.datastreams.some((d) => d.station === target.station && d.metric === target.metric);
        if (!belongs) throw notFound(`${nav.target}('${seg.id}') is not one of ${e.set}('${e.id}')/${seg.name}`);
        current = { kind: 'entity', entity: target };
      } else {
        current = { kind: 'collection', source, link: `${selfLink(ctx, e)}/${seg.name}` };
      }
    } else if (seg.id === undefined && (type.props.includes(seg.name) || seg.name === 'id')) {
      if (seg.name === 'id') return { kind: 'property', entity: { ...e, props: { ...e.props, id: e.id } }, name: 'id', value: false };
      current = { kind: 'property', entity: e, name: seg.name, value: false };
    } else {
      throw notFound(`${e.set} has no property or navigation property '${seg.name}'`);
    }
  }
  return current;
}

function setSource(set: EntitySet, catalogue: Catalogue): Source {
  if (set === 'Observations') return { kind: 'observations', datastreams: catalogue.all('Datastreams') };
  return { kind: 'memory', set, entities: catalogue.all(set) };
}

async function getEntity(set: EntitySet, id: string, catalogue: Catalogue, ctx: StaContext): Promise<Entity> {
  if (set !== 'Observations') {
    const e = catalogue.get(set, id);
    if (!e) throw notFound(`no ${set}('${id}')`);
    return e;
  }
  const o = parseObservationId(id);
  if (!o || !catalogue.datastream(o.station, o.metric)) throw notFound(`no Observations('${id}')`);
  const [p] = await ctx.store.series({ station: o.station, metric: o.metric, from: o.ts, to: o.ts + 1 });
  if (!p) throw notFound(`no Observations('${id}')`);
  return observationEntity(o.station, o.metric, p.ts, p.value);
}

export { DEFAULT_TOP };
