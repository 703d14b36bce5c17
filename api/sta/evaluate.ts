import { QuerySyntaxError, type Expr, type Geometry, type OrderBy } from './parser.ts';
import { TYPES, type Catalogue, type Entity } from './model.ts';

/**
 * Evaluates `$filter` / `$orderby` expressions on one entity, in memory. Paths cross navigation
 * properties through the catalogue (Observation → Datastream → Thing); a path through a
 * to-many property (Things: `Locations/location`) holds when any of the related entities does,
 * as FROST-Server does. Observations are not reachable from a path (they are in the store).
 */

interface Many { many: unknown[] }
const isMany = (v: unknown): v is Many => typeof v === 'object' && v !== null && 'many' in v && Array.isArray((v as Many).many);
interface Time { time: number }
const isTime = (v: unknown): v is Time => typeof v === 'object' && v !== null && 'time' in v && typeof (v as Time).time === 'number';
const isDuration = (v: unknown): v is { durationMs: number } => typeof v === 'object' && v !== null && 'durationMs' in v;
const isGeo = (v: unknown): v is Geometry => typeof v === 'object' && v !== null && 'type' in v && 'coordinates' in v;

export interface EvalContext { catalogue: Catalogue; now: number }

export function evaluate(e: Expr, entity: Entity, ctx: EvalContext): unknown {
  switch (e.type) {
    case 'lit': return e.value;
    case 'prop': return resolvePath(entity, e.path, ctx);
    case 'not': return lift([evaluate(e.expr, entity, ctx)], ([v]) => (v === null ? null : !truthy(v)));
    case 'neg': return lift([evaluate(e.expr, entity, ctx)], ([v]) => (typeof v === 'number' ? -v : null));
    case 'bin': {
      if (e.op === 'and') return truthy(evaluate(e.left, entity, ctx)) && truthy(evaluate(e.right, entity, ctx));
      if (e.op === 'or') return truthy(evaluate(e.left, entity, ctx)) || truthy(evaluate(e.right, entity, ctx));
      return lift([evaluate(e.left, entity, ctx), evaluate(e.right, entity, ctx)], ([a, b]) => binary(e.op, a, b));
    }
    case 'call':
      return lift(e.args.map((a) => evaluate(a, entity, ctx)), (args) => call(e.name, args, ctx));
  }
}

/** does the entity pass `$filter`? (null and non-booleans do not) */
export function matches(filter: Expr | undefined, entity: Entity, ctx: EvalContext): boolean {
  return filter === undefined || truthy(evaluate(filter, entity, ctx));
}

function truthy(v: unknown): boolean {
  if (isMany(v)) return v.many.some(truthy);
  return v === true;
}

/** applies `fn` to plain values; a to-many value applies it to each and holds when any does */
function lift(args: unknown[], fn: (args: unknown[]) => unknown): unknown {
  const k = args.findIndex(isMany);
  if (k < 0) return fn(args);
  const results = (args[k] as Many).many.map((v) => lift(args.map((a, j) => (j === k ? v : a)), fn));
  return results.every((r) => typeof r === 'boolean' || r === null) ? results.some((r) => r === true) : { many: results };
}

function resolvePath(entity: Entity, path: string[], ctx: EvalContext): unknown {
  let current: unknown = entity;
  for (const [i, seg] of path.entries()) {
    current = lift([current], ([c]) => step(c, seg, i === path.length - 1, ctx));
  }
  return current;
}

function step(c: unknown, seg: string, last: boolean, ctx: EvalContext): unknown {
  if (c === null || c === undefined) return null;
  if (isEntity(c)) {
    if (seg === 'id' || seg === '@iot.id') return c.id;
    const type = TYPES[c.set];
    const nav = type.navs[seg];
    if (nav) {
      if (nav.target === 'Observations') throw new QuerySyntaxError(`$filter: the path through ${c.set}/${seg} is not supported (Observations are queried on their own)`);
      const rel = ctx.catalogue.related(c, seg);
      if (last) throw new QuerySyntaxError(`$filter: ${seg} is a navigation property, not a value`);
      return nav.many ? { many: rel } : (rel[0] ?? null);
    }
    if (!type.props.includes(seg)) throw new QuerySyntaxError(`$filter: ${c.set} has no property '${seg}'`);
    return c.props[seg] ?? null;
  }
  // inside a JSON property: properties/kind, unitOfMeasurement/symbol
  if (typeof c === 'object' && !Array.isArray(c)) return (c as Record<string, unknown>)[seg] ?? null;
  return null;
}

function isEntity(v: unknown): v is Entity {
  return typeof v === 'object' && v !== null && 'set' in v && 'props' in v;
}

/** a value as a time: time literals, ISO strings (phenomenonTime), the start of an interval */
function asTime(v: unknown): number | undefined {
  if (isTime(v)) return v.time;
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const ms = Date.parse(v.split('/')[0]!);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

function compare(a: unknown, b: unknown): number | undefined {
  if (a === null || b === null || a === undefined || b === undefined) return undefined;
  if ((isTime(a) || isTime(b))) {
    const x = asTime(a); const y = asTime(b);
    return x === undefined || y === undefined ? undefined : x - y;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return undefined;
}

function binary(op: string, a: unknown, b: unknown): unknown {
  switch (op) {
    case 'eq': return a === null || b === null ? a === b : compare(a, b) === 0 || (isGeo(a) && isGeo(b) && JSON.stringify(a) === JSON.stringify(b));
    case 'ne': return a === null || b === null ? a !== b : compare(a, b) !== 0;
    case 'gt': { const c = compare(a, b); return c === undefined ? false : c > 0; }
    case 'ge': { const c = compare(a, b); return c === undefined ? false : c >= 0; }
    case 'lt': { const c = compare(a, b); return c === undefined ? false : c < 0; }
    case 'le': { const c = compare(a, b); return c === undefined ? false : c <= 0; }
  }
  // time arithmetic: time ± duration, time − time (a duration)
  const ta = asTime(a);
  if (ta !== undefined && isDuration(b) && (op === 'add' || op === 'sub')) return { time: op === 'add' ? ta + b.durationMs : ta - b.durationMs };
  const tb = asTime(b);
  if (ta !== undefined && tb !== undefined && op === 'sub') return { durationMs: ta - tb };
  if (typeof a !== 'number' || typeof b !== 'number') return null;
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return b === 0 ? null : a / b;
    case 'mod': return b === 0 ? null : a % b;
  }
  return null;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function call(name: string, args: unknown[], ctx: EvalContext): unknown {
  const [a, b, c] = args;
  const date = () => { const t = asTime(a); return t === undefined ? undefined : new Date(t); };
  switch (name) {
    case 'substringof': return str(a) !== undefined && str(b) !== undefined ? str(b)!.includes(str(a)!) : null;
    case 'contains': return str(a) !== undefined && str(b) !== undefined ? str(a)!.includes(str(b)!) : null;
    case 'startswith': return str(a) !== undefined && str(b) !== undefined ? str(a)!.startsWith(str(b)!) : null;
    case 'endswith': return str(a) !== undefined && str(b) !== undefined ? str(a)!.endsWith(str(b)!) : null;
    case 'length': return str(a)?.length ?? null;
    case 'indexof': return str(a) !== undefined && str(b) !== undefined ? str(a)!.indexOf(str(b)!) : null;
    case 'substring': return str(a) !== undefined && typeof b === 'number' ? str(a)!.substring(b, typeof c === 'number' ? b + c : undefined) : null;
    case 'tolower': return str(a)?.toLowerCase() ?? null;
    case 'toupper': return str(a)?.toUpperCase() ?? null;
    case 'trim': return str(a)?.trim() ?? null;
    case 'concat': return str(a) !== undefined && str(b) !== undefined ? str(a)! + str(b)! : null;
    // time parts in UTC: the service's time zone (README "Times")
    case 'year': return date()?.getUTCFullYear() ?? null;
    case 'month': { const d = date(); return d ? d.getUTCMonth() + 1 : null; }
    case 'day': return date()?.getUTCDate() ?? null;
    case 'hour': return date()?.getUTCHours() ?? null;
    case 'minute': return date()?.getUTCMinutes() ?? null;
    case 'second': return date()?.getUTCSeconds() ?? null;
    case 'fractionalseconds': { const d = date(); return d ? d.getUTCMilliseconds() / 1000 : null; }
    case 'date': { const d = date(); return d ? { time: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) } : null; }
    // the time of day as a string hh:mm:ss.sss, comparable with another time()
    case 'time': return date()?.toISOString().slice(11, 23) ?? null;
    case 'totaloffsetminutes': return date() ? 0 : null;
    case 'now': return { time: ctx.now };
    case 'mindatetime': return { time: -8.64e15 };
    case 'maxdatetime': return { time: 8.64e15 };
    case 'round': return typeof a === 'number' ? Math.round(a) : null;
    case 'floor': return typeof a === 'number' ? Math.floor(a) : null;
    case 'ceiling': return typeof a === 'number' ? Math.ceil(a) : null;
    case 'geo.distance': return isGeo(a) && isGeo(b) ? distance(a, b) : null;
    case 'geo.length': return isGeo(a) && a.type === 'LineString' ? a.coordinates.slice(1).reduce((s, p, i) => s + Math.hypot(p[0] - a.coordinates[i]![0], p[1] - a.coordinates[i]![1]), 0) : null;
    case 'geo.intersects':
    case 'st_intersects': return isGeo(a) && isGeo(b) ? intersects(a, b) : null;
    case 'st_disjoint': return isGeo(a) && isGeo(b) ? !intersects(a, b) : null;
    case 'st_within': return isGeo(a) && isGeo(b) ? within(a, b) : null;
    case 'st_contains': return isGeo(a) && isGeo(b) ? within(b, a) : null;
    case 'st_equals': return isGeo(a) && isGeo(b) ? JSON.stringify(a.coordinates) === JSON.stringify(b.coordinates) : null;
    case 'st_touches': case 'st_overlaps': case 'st_crosses':
      throw new QuerySyntaxError(`$filter: ${name}() is not supported on this service (points only: st_within, st_intersects, st_contains, st_disjoint, st_equals, geo.distance)`);
  }
  throw new QuerySyntaxError(`$filter: unknown function ${name}()`);
}

/**
 * Geometry in the plane of longitude/latitude degrees, as FROST-Server's PostGIS geometry columns
 * do: geo.distance is in degrees. The platform's locations are points, so point-in-polygon and
 * point-on-point cover the useful cases; polygons against polygons are refused by points().
 */
function points(g: Geometry): Array<[number, number]> {
  if (g.type === 'Point') return [g.coordinates];
  if (g.type === 'LineString') return g.coordinates;
  return g.coordinates[0]!;
}

function inRing(p: [number, number], ring: Array<[number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!; const [xj, yj] = ring[j]!;
    if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function inPolygon(p: [number, number], poly: Extract<Geometry, { type: 'Polygon' }>): boolean {
  const [outer, ...holes] = poly.coordinates;
  return inRing(p, outer!) && !holes.some((h) => inRing(p, h));
}

function within(a: Geometry, b: Geometry): boolean {
  if (b.type === 'Polygon') return points(a).every((p) => inPolygon(p, b));
  if (a.type === 'Point' && b.type === 'Point') return a.coordinates[0] === b.coordinates[0] && a.coordinates[1] === b.coordinates[1];
  throw new QuerySyntaxError('$filter: st_within is supported with a polygon (or a point) as its second argument');
}

function intersects(a: Geometry, b: Geometry): boolean {
  if (a.type === 'Point' && b.type === 'Polygon') return inPolygon(a.coordinates, b);
  if (b.type === 'Point' && a.type === 'Polygon') return inPolygon(b.coordinates, a);
  if (a.type === 'Point' && b.type === 'Point') return within(a, b);
  throw new QuerySyntaxError('$filter: geo.intersects/st_intersects is supported between a point and a polygon or point');
}

function distance(a: Geometry, b: Geometry): number {
  if (a.type !== 'Point' || b.type !== 'Point') throw new QuerySyntaxError('$filter: geo.distance is supported between points');
  return Math.hypot(a.coordinates[0] - b.coordinates[0], a.coordinates[1] - b.coordinates[1]);
}

/** `$orderby` comparator over entities (nulls first, as OData sorts them ascending) */
export function comparator(orderby: readonly OrderBy[], ctx: EvalContext): (x: Entity, y: Entity) => number {
  return (x, y) => {
    for (const o of orderby) {
      const a = evaluate(o.expr, x, ctx); const b = evaluate(o.expr, y, ctx);
      let c: number;
      if (a === null || a === undefined) c = b === null || b === undefined ? 0 : -1;
      else if (b === null || b === undefined) c = 1;
      else c = compare(isTime(a) ? a : a, b) ?? 0;
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  };
}
