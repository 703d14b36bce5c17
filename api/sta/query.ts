import type { TimeSeriesStore } from '../../store/types.ts';
import { comparator, matches, type EvalContext } from './evaluate.ts';
import { TYPES, observationEntity, type Catalogue, type Entity, type EntitySet } from './model.ts';
import { QuerySyntaxError, type Expr, type QueryOptions } from './parser.ts';

/**
 * Runs a SensorThings request over the catalogue (in memory) and the store (Observations):
 * `$filter`, `$orderby`, `$skip`, `$top`, `$count`, `$select`, `$expand`, `@iot.nextLink`.
 */

export const DEFAULT_TOP = 100;
export const MAX_TOP = 10_000;
/** how far back an Observations scan goes when `$filter` gives no lower time bound */
export const HISTORY_MS = 10 * 366 * 86_400_000;
/** an Observations scan reads the store in windows of about this many readings */
const WINDOW_ROWS = 5_000;

export interface StaContext extends EvalContext {
  store: Pick<TimeSeriesStore, 'series' | 'count'>;
  /** `http://host:port/sta/v1.1`, for self, navigation and next links */
  base: string;
}

/** where a collection's entities come from: the catalogue, or the store's readings of some Datastreams */
export type Source =
  | { kind: 'memory'; set: Exclude<EntitySet, 'Observations'>; entities: readonly Entity[] }
  | { kind: 'observations'; datastreams: readonly Entity[] };

export type Json = Record<string, unknown>;

export function selfLink(ctx: StaContext, e: Entity): string {
  return `${ctx.base}/${e.set}('${encodeURIComponent(e.id).replace(/%3A/g, ':')}')`;
}

export interface Page { value: Json[]; count?: number; nextLink?: string }

/** a collection: `link` is its URL without query (nextLink is built from it) */
export async function readCollection(source: Source, opts: QueryOptions, link: string, ctx: StaContext): Promise<Page> {
  const top = Math.min(opts.top ?? DEFAULT_TOP, MAX_TOP);
  const skip = opts.skip ?? 0;
  let items: Entity[];
  let count: number | undefined;
  let more: boolean;
  if (source.kind === 'memory') {
    const all = source.entities.filter((e) => matches(opts.filter, e, ctx));
    if (opts.orderby) all.sort(comparator(opts.orderby, ctx));
    count = all.length;
    items = all.slice(skip, skip + top);
    more = skip + top < all.length;
  } else {
    const r = await scanObservations(source.datastreams, opts, skip, top, ctx);
    ({ items, more } = r);
    count = r.count;
  }
  const page: Page = { value: await Promise.all(items.map((e) => formatEntity(e, opts, ctx))) };
  if (opts.count) page.count = count;
  // $top=0 asks for the count alone: no next page would ever bring an entity
  if (more && top > 0) page.nextLink = `${link}?${nextQuery(opts, skip + top, top)}`;
  return page;
}

export function pageJson(page: Page): Json {
  return { ...(page.count !== undefined ? { '@iot.count': page.count } : {}), ...(page.nextLink ? { '@iot.nextLink': page.nextLink } : {}), value: page.value };
}

function nextQuery(opts: QueryOptions, skip: number, top: number): string {
  const raw = { ...opts.raw, $top: String(top), $skip: String(skip) };
  return Object.entries(raw).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/** One entity as JSON: @iot.id, @iot.selfLink, its properties, navigation links, then what $expand asks for. */
export async function formatEntity(e: Entity, opts: QueryOptions, ctx: StaContext): Promise<Json> {
  const type = TYPES[e.set];
  const self = selfLink(ctx, e);
  const wanted = opts.select ? new Set(opts.select.map((s) => (s === 'id' ? '@iot.id' : s === 'selfLink' ? '@iot.selfLink' : s))) : undefined;
  if (wanted) {
    for (const w of wanted) {
      if (w !== '@iot.id' && w !== '@iot.selfLink' && !type.props.includes(w) && !(w in type.navs)) throw new QuerySyntaxError(`$select: ${e.set} has no property '${w}'`);
    }
  }
  const show = (name: string) => !wanted || wanted.has(name);
  const out: Json = {};
  if (show('@iot.id')) out['@iot.id'] = e.id;
  if (show('@iot.selfLink')) out['@iot.selfLink'] = self;
  for (const p of type.props) if (show(p) && e.props[p] !== undefined) out[p] = e.props[p];
  for (const nav of Object.keys(type.navs)) if (show(nav)) out[`${nav}@iot.navigationLink`] = `${self}/${nav}`;
  for (const item of opts.expand ?? []) {
    const nav = item.path[0]!;
    const def = type.navs[nav];
    if (!def) throw new QuerySyntaxError(`$expand: ${e.set} has no navigation property '${nav}'`);
    const link = `${self}/${nav}`;
    if (def.many) {
      const page = await readCollection(navigationSource(e, nav, ctx.catalogue), item.options, link, ctx);
      if (page.count !== undefined) out[`${nav}@iot.count`] = page.count;
      if (page.nextLink) out[`${nav}@iot.nextLink`] = page.nextLink;
      out[nav] = page.value;
    } else {
      const target = ctx.catalogue.related(e, nav)[0];
      out[nav] = target ? await formatEntity(target, item.options, ctx) : null;
    }
  }
  return out;
}

/** what a to-many navigation property of `e` leads to */
export function navigationSource(e: Entity, nav: string, catalogue: Catalogue): Source {
  const def = TYPES[e.set].navs[nav]!;
  if (def.target === 'Observations') {
    const datastreams = e.set === 'Datastreams' ? [e] : e.set === 'FeaturesOfInterest' ? catalogue.related(catalogue.get('Things', e.id) ?? e, 'Datastreams') : [];
    return { kind: 'observations', datastreams };
  }
  return { kind: 'memory', set: def.target, entities: catalogue.related(e, nav) };
}

// ---- Observations: paged from the store ----

interface Bounds { from: number; to: number; datastreams?: Set<string> }

const TIME_PROPS = new Set(['phenomenonTime', 'resultTime']);

/**
 * Time bounds and Datastream ids that `$filter` implies through its top-level `and`s, so the
 * store is asked only for them (the whole filter is still applied to each reading).
 */
export function pushDown(filter: Expr | undefined, now: number): Bounds {
  const b: Bounds = { from: now - HISTORY_MS, to: now + 86_400_000 };
  const visit = (e: Expr) => {
    if (e.type !== 'bin') return;
    if (e.op === 'and') { visit(e.left); visit(e.right); return; }
    let { op, left, right } = e;
    if (left.type === 'lit') { [left, right] = [right, left]; op = ({ gt: 'lt', ge: 'le', lt: 'gt', le: 'ge', eq: 'eq' } as Record<string, typeof op>)[op] ?? op; }
    if (left.type !== 'prop' || right.type !== 'lit') return;
    const path = left.path.join('/');
    const v = right.value;
    if (TIME_PROPS.has(path) && typeof v === 'object' && v !== null && 'time' in v) {
      const t = v.time;
      if (op === 'gt') b.from = Math.max(b.from, t + 1);
      else if (op === 'ge') b.from = Math.max(b.from, t);
      else if (op === 'lt') b.to = Math.min(b.to, t);
      else if (op === 'le') b.to = Math.min(b.to, t + 1);
      else if (op === 'eq') { b.from = Math.max(b.from, t); b.to = Math.min(b.to, t + 1); }
    }
    if ((path === 'Datastream/id' || path === 'Datastream/@iot.id') && op === 'eq' && typeof v === 'string') {
      b.datastreams = new Set([...(b.datastreams ?? [v])].filter((x) => x === v));
    }
  };
  visit(filter ?? { type: 'lit', value: true });
  return b;
}

function observationOrder(opts: QueryOptions): { desc: boolean } {
  const first = opts.orderby?.[0];
  if (!first) return { desc: true }; // newest first: what a client of live data wants
  const path = first.expr.type === 'prop' ? first.expr.path.join('/') : '';
  if (!TIME_PROPS.has(path)) {
    throw new QuerySyntaxError('$orderby: Observations are ordered by phenomenonTime or resultTime first (they are read from the store in time order); further keys may follow');
  }
  return { desc: first.desc };
}

/**
 * Walks the store in time windows (newest first, or oldest first), each about WINDOW_ROWS readings
 * long (sparse stretches are crossed in growing steps), until a page and one more are found.
 * `$count` reads every window of the bounds (the store's own count when there is no filter).
 */
async function scanObservations(datastreams: readonly Entity[], opts: QueryOptions, skip: number, top: number, ctx: StaContext): Promise<{ items: Entity[]; more: boolean; count?: number }> {
  const bounds = pushDown(opts.filter, ctx.now);
  const dss = bounds.datastreams ? datastreams.filter((d) => bounds.datastreams!.has(d.id)) : datastreams;
  const { desc } = observationOrder(opts);
  // by time alone (the usual case): sorted on the number, not through the expression evaluator
  const byTimeOnly = (opts.orderby?.length ?? 1) === 1;
  const order = comparator(opts.orderby ?? [], ctx);
  const want = skip + top + 1;
  const found: Row[] = [];
  let seen = 0;
  const storeCount = opts.count && !opts.filter;
  let lo = bounds.from; let hi = bounds.to;
  // newest first: the first window reaches an hour before now (the bounds run a day ahead for skewed clocks)
  let width = desc && hi > ctx.now ? hi - ctx.now + 3_600_000 : 3_600_000;
  while (lo < hi && dss.length > 0) {
    const win = desc ? { from: Math.max(lo, hi - width), to: hi } : { from: lo, to: Math.min(hi, lo + width) };
    const rows: Row[] = [];
    let read = 0;
    for (const d of dss) {
      const points = await ctx.store.series({ station: d.station!, metric: d.metric!, from: win.from, to: win.to });
      read += points.length;
      for (const p of points) {
        // an entity only where the filter or the order needs one; the page's are made at the end
        const e = opts.filter || !byTimeOnly ? observationEntity(d.station!, d.metric!, p.ts, p.value) : undefined;
        if (e && !matches(opts.filter, e, ctx)) continue;
        rows.push({ d, ts: p.ts, value: p.value, ...(e ? { e } : {}) });
      }
    }
    if (byTimeOnly) rows.sort((a, b) => (desc ? b.ts - a.ts : a.ts - b.ts) || (a.d.id < b.d.id ? -1 : a.d.id > b.d.id ? 1 : 0));
    else rows.sort((a, b) => order(a.e!, b.e!));
    seen += rows.length;
    for (let k = 0; k < rows.length && found.length < want; k++) found.push(rows[k]!); // no spread: $skip may be large
    if (desc) hi = win.from; else lo = win.to;
    if (found.length >= want && (!opts.count || storeCount)) break;
    if (read === 0) {
      // an empty stretch: ask the store where the next readings are instead of widening blindly
      // (a window grown over years of nothing would land on all the readings at once)
      const next = await nextData(dss, lo, hi, desc, ctx);
      if (!next) break;
      ({ lo, hi, width } = next);
      continue;
    }
    // about WINDOW_ROWS readings per window: wider over sparse stretches, narrower over dense ones
    // (density over the part of the window up to now: the first one also covers the day ahead)
    const span = Math.max(60_000, Math.min(win.to, ctx.now) - win.from);
    width = Math.round(Math.max(60_000, Math.min(span * Math.min(16, WINDOW_ROWS / read), 366 * 86_400_000)));
  }
  let count: number | undefined;
  if (opts.count) {
    count = storeCount ? (await Promise.all(dss.map((d) => ctx.store.count({ station: d.station!, metric: d.metric! })))).reduce((a, b) => a + b, 0) : seen;
  }
  const items = found.slice(skip, skip + top).map((r) => r.e ?? observationEntity(r.d.station!, r.d.metric!, r.ts, r.value));
  // The store's count is read after the scan: a reading stored between the two makes it larger.
  // A page must not say "@iot.count 3" and offer no next page: the count's view wins.
  const more = found.length > skip + top || (count !== undefined && count > skip + top);
  return { items, more, ...(count !== undefined ? { count } : {}) };
}

interface Row { d: Entity; ts: number; value: number; e?: Entity }

/**
 * Where the readings nearest to the scan's edge are, at the resolution of ~1/2000 of what is left
 * (whole hours): one aggregate per Datastream, returning only buckets that hold readings. The scan
 * goes on from the nearest one, one bucket wide; undefined when there is nothing left.
 */
async function nextData(dss: readonly Entity[], lo: number, hi: number, desc: boolean, ctx: StaContext): Promise<{ lo: number; hi: number; width: number } | undefined> {
  const hour = 3_600_000;
  const every = Math.max(hour, Math.ceil((hi - lo) / 2000 / hour) * hour);
  let edge: number | undefined;
  for (const d of dss) {
    const buckets = await ctx.store.series({ station: d.station!, metric: d.metric!, from: lo, to: hi, every, fn: 'last', resolution: 'raw' });
    if (buckets.length === 0) continue;
    const b = desc ? Math.max(...buckets.map((x) => x.ts)) + every : Math.min(...buckets.map((x) => x.ts));
    edge = edge === undefined ? b : desc ? Math.max(edge, b) : Math.min(edge, b);
  }
  if (edge === undefined) return undefined;
  return desc ? { lo, hi: Math.min(hi, edge), width: every } : { lo: Math.max(lo, edge), hi, width: every };
}
