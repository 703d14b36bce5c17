/**
 * The query language of SensorThings API 1.1 (OGC 18-088 §9.3): OData 4 `$filter` / `$orderby`
 * expressions with SensorThings' own functions (`substringof`, `st_within`, `geography'POINT(…)'`),
 * and `$expand` with nested options. A small recursive-descent parser: @odata/parser 0.2.14 and
 * odata-v4-parser 0.1.29 both refuse `geography'POLYGON(…)'` literals without an SRID and the `st_*`
 * functions, which SensorThings clients send (api/sta/README.md "Why not an npm parser").
 *
 * Precedence, lowest first (OData 4.01 part 2 §5.1.1): or, and, comparison, add/sub, mul/div/mod,
 * not and unary minus, primary.
 */

export type Geometry =
  | { type: 'Point'; coordinates: [number, number] }
  | { type: 'LineString'; coordinates: Array<[number, number]> }
  | { type: 'Polygon'; coordinates: Array<Array<[number, number]>> };

/** a time literal, epoch ms (kept apart from numbers so `phenomenonTime gt 2024-01-01T00:00Z` compares times) */
export interface TimeValue { time: number }
export interface DurationValue { durationMs: number }

export type Literal = number | string | boolean | null | TimeValue | DurationValue | Geometry;

export type Expr =
  | { type: 'lit'; value: Literal }
  | { type: 'prop'; path: string[] }
  | { type: 'bin'; op: BinOp; left: Expr; right: Expr }
  | { type: 'not'; expr: Expr }
  | { type: 'neg'; expr: Expr }
  | { type: 'call'; name: string; args: Expr[] };

export const COMPARISON = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const;
export const ARITHMETIC = ['add', 'sub', 'mul', 'div', 'mod'] as const;
export type BinOp = (typeof COMPARISON)[number] | (typeof ARITHMETIC)[number] | 'and' | 'or';

/** functions and their arity [min, max] (18-088 Table 34 plus OData 4 `contains`, `indexof`, `substring`) */
export const FUNCTIONS: Record<string, [number, number]> = {
  substringof: [2, 2], contains: [2, 2], endswith: [2, 2], startswith: [2, 2], length: [1, 1], indexof: [2, 2],
  substring: [2, 3], tolower: [1, 1], toupper: [1, 1], trim: [1, 1], concat: [2, 2],
  year: [1, 1], month: [1, 1], day: [1, 1], hour: [1, 1], minute: [1, 1], second: [1, 1], fractionalseconds: [1, 1],
  date: [1, 1], time: [1, 1], totaloffsetminutes: [1, 1], now: [0, 0], mindatetime: [0, 0], maxdatetime: [0, 0],
  round: [1, 1], floor: [1, 1], ceiling: [1, 1],
  'geo.distance': [2, 2], 'geo.length': [1, 1], 'geo.intersects': [2, 2],
  st_equals: [2, 2], st_disjoint: [2, 2], st_touches: [2, 2], st_within: [2, 2], st_overlaps: [2, 2],
  st_crosses: [2, 2], st_intersects: [2, 2], st_contains: [2, 2],
};

/** A query that cannot be parsed: the API answers 400 with this message (18-088 §9.3: "an error"). */
export class QuerySyntaxError extends Error {}

type Token =
  | { kind: 'num'; value: number; pos: number }
  | { kind: 'str'; value: string; pos: number }
  | { kind: 'time'; value: number; pos: number }
  | { kind: 'geo'; value: Geometry; pos: number }
  | { kind: 'duration'; value: number; pos: number }
  | { kind: 'ident'; value: string; pos: number }
  | { kind: 'punct'; value: '(' | ')' | ',' | '/' | '-'; pos: number }
  | { kind: 'end'; pos: number };

const DATETIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?/;
const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/;
const IDENT = /^[A-Za-z_@$][A-Za-z0-9_.@]*/;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if ('(),/'.includes(c)) { out.push({ kind: 'punct', value: c as '(' | ')' | ',' | '/', pos: i }); i++; continue; }
    // OData has no binary minus (it is `sub`): '-' is a negative number's sign or unary negation
    if (c === '-' && !/\d/.test(src[i + 1] ?? '')) { out.push({ kind: 'punct', value: '-', pos: i }); i++; continue; }
    if (c === "'") {
      const { value, end } = readQuoted(src, i);
      out.push({ kind: 'str', value, pos: i });
      i = end;
      continue;
    }
    const rest = src.slice(i);
    const dt = DATETIME.exec(rest);
    if (dt && dt[0].length > 4) {
      const ms = Date.parse(dt[0].length === 10 ? dt[0] + 'T00:00:00Z' : dt[0]);
      if (Number.isNaN(ms)) throw new QuerySyntaxError(`invalid date-time ${dt[0]} at ${i}`);
      out.push({ kind: 'time', value: ms, pos: i });
      i += dt[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) { out.push({ kind: 'num', value: Number(num[0]), pos: i }); i += num[0].length; continue; }
    const id = IDENT.exec(rest);
    if (id) {
      const word = id[0];
      // typed literals: geography'POINT(1 2)', geometry'…', duration'P1D'
      if (src[i + word.length] === "'" && ['geography', 'geometry', 'duration'].includes(word.toLowerCase())) {
        const { value, end } = readQuoted(src, i + word.length);
        if (word.toLowerCase() === 'duration') out.push({ kind: 'duration', value: parseDuration(value, i), pos: i });
        else out.push({ kind: 'geo', value: parseWkt(value, i), pos: i });
        i = end;
        continue;
      }
      out.push({ kind: 'ident', value: word, pos: i });
      i += word.length;
      continue;
    }
    throw new QuerySyntaxError(`unexpected character '${c}' at ${i}`);
  }
  out.push({ kind: 'end', pos: src.length });
  return out;
}

/** a '…' string from `start` (the opening quote); '' is a quote inside it */
function readQuoted(src: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    if (i >= src.length) throw new QuerySyntaxError(`unterminated string starting at ${start}`);
    if (src[i] === "'") {
      if (src[i + 1] === "'") { value += "'"; i += 2; continue; }
      return { value, end: i + 1 };
    }
    value += src[i];
    i++;
  }
}

/** ISO 8601 durations with days and time parts (P1DT2H30M, PT15M): what time arithmetic needs */
function parseDuration(s: string, pos: number): number {
  const m = /^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(s);
  if (!m || s === 'P' || s.endsWith('T')) throw new QuerySyntaxError(`invalid duration '${s}' at ${pos}: use PnDTnHnMnS`);
  const ms = ((Number(m[2] ?? 0) * 24 + Number(m[3] ?? 0)) * 60 + Number(m[4] ?? 0)) * 60_000 + Number(m[5] ?? 0) * 1000;
  return m[1] ? -ms : ms;
}

/** WKT POINT, LINESTRING and POLYGON (an optional `SRID=4326;` prefix is accepted): x is longitude */
export function parseWkt(text: string, pos = 0): Geometry {
  const s = text.trim().replace(/^SRID=\d+;/i, '');
  const m = /^(POINT|LINESTRING|POLYGON)\s*\((.*)\)$/is.exec(s);
  if (!m) throw new QuerySyntaxError(`geography at ${pos}: expected POINT(…), LINESTRING(…) or POLYGON((…)), got '${text}'`);
  const pair = (p: string): [number, number] => {
    const xy = p.trim().split(/\s+/).map(Number);
    if (xy.length < 2 || xy.some((n) => !Number.isFinite(n))) throw new QuerySyntaxError(`geography at ${pos}: bad coordinate '${p.trim()}'`);
    return [xy[0]!, xy[1]!];
  };
  const body = m[2]!;
  switch (m[1]!.toUpperCase()) {
    case 'POINT':
      return { type: 'Point', coordinates: pair(body) };
    case 'LINESTRING':
      return { type: 'LineString', coordinates: body.split(',').map(pair) };
    default: {
      const rings = [...body.matchAll(/\(([^()]*)\)/g)].map((r) => r[1]!.split(',').map(pair));
      if (rings.length === 0 || rings.some((r) => r.length < 4)) throw new QuerySyntaxError(`geography at ${pos}: a POLYGON ring needs at least 4 points`);
      return { type: 'Polygon', coordinates: rings };
    }
  }
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[], private readonly src: string) {}

  peek(): Token { return this.tokens[this.i]!; }
  next(): Token { return this.tokens[this.i++]!; }
  isWord(...words: string[]): boolean {
    const t = this.peek();
    return t.kind === 'ident' && words.includes(t.value.toLowerCase());
  }
  expectPunct(p: '(' | ')' | ','): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.value !== p) throw this.error(`expected '${p}'`, t);
  }
  error(what: string, t: Token = this.peek()): QuerySyntaxError {
    const found = t.kind === 'end' ? 'the end' : `'${this.src.slice(t.pos, t.pos + 20)}'`;
    return new QuerySyntaxError(`${what} at ${t.pos}, found ${found}`);
  }
  end(): void {
    if (this.peek().kind !== 'end') throw this.error('unexpected input');
  }

  or(): Expr {
    let left = this.and();
    while (this.isWord('or')) { this.next(); left = { type: 'bin', op: 'or', left, right: this.and() }; }
    return left;
  }
  and(): Expr {
    let left = this.comparison();
    while (this.isWord('and')) { this.next(); left = { type: 'bin', op: 'and', left, right: this.comparison() }; }
    return left;
  }
  comparison(): Expr {
    const left = this.additive();
    if (this.isWord(...COMPARISON)) {
      const op = (this.next() as { value: string }).value.toLowerCase() as BinOp;
      return { type: 'bin', op, left, right: this.additive() };
    }
    return left;
  }
  additive(): Expr {
    let left = this.multiplicative();
    while (this.isWord('add', 'sub')) {
      const op = (this.next() as { value: string }).value.toLowerCase() as BinOp;
      left = { type: 'bin', op, left, right: this.multiplicative() };
    }
    return left;
  }
  multiplicative(): Expr {
    let left = this.unary();
    while (this.isWord('mul', 'div', 'mod')) {
      const op = (this.next() as { value: string }).value.toLowerCase() as BinOp;
      left = { type: 'bin', op, left, right: this.unary() };
    }
    return left;
  }
  unary(): Expr {
    if (this.isWord('not')) { this.next(); return { type: 'not', expr: this.unary() }; }
    const t = this.peek();
    if (t.kind === 'punct' && t.value === '-') { this.next(); return { type: 'neg', expr: this.unary() }; }
    return this.primary();
  }
  primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'num': return { type: 'lit', value: t.value };
      case 'str': return { type: 'lit', value: t.value };
      case 'time': return { type: 'lit', value: { time: t.value } };
      case 'duration': return { type: 'lit', value: { durationMs: t.value } };
      case 'geo': return { type: 'lit', value: t.value };
      case 'punct':
        if (t.value === '(') {
          const e = this.or();
          this.expectPunct(')');
          return e;
        }
        throw this.error('expected an expression', t);
      case 'end':
        throw this.error('expected an expression', t);
      case 'ident': {
        const word = t.value;
        const lower = word.toLowerCase();
        if (lower === 'true' || lower === 'false') return { type: 'lit', value: lower === 'true' };
        if (lower === 'null') return { type: 'lit', value: null };
        const after = this.peek();
        if (after.kind === 'punct' && after.value === '(') {
          const arity = FUNCTIONS[lower];
          if (!arity) throw new QuerySyntaxError(`unknown function ${word}() at ${t.pos}`);
          this.next();
          const args: Expr[] = [];
          if (!(this.peek().kind === 'punct' && (this.peek() as { value: string }).value === ')')) {
            args.push(this.or());
            while (this.peek().kind === 'punct' && (this.peek() as { value: string }).value === ',') { this.next(); args.push(this.or()); }
          }
          this.expectPunct(')');
          if (args.length < arity[0] || args.length > arity[1]) {
            throw new QuerySyntaxError(`${word}() at ${t.pos} takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} arguments, got ${args.length}`);
          }
          return { type: 'call', name: lower, args };
        }
        // a property path through navigation properties: Datastream/Thing/name
        const path = [word];
        while (this.peek().kind === 'punct' && (this.peek() as { value: string }).value === '/') {
          this.next();
          const seg = this.next();
          if (seg.kind !== 'ident') throw this.error('expected a property name after /', seg);
          path.push(seg.value);
        }
        return { type: 'prop', path };
      }
    }
  }
}

/** `$filter` (and any OData boolean or value expression) */
export function parseExpression(src: string): Expr {
  const p = new Parser(tokenize(src), src);
  const e = p.or();
  p.end();
  return e;
}

export interface OrderBy { expr: Expr; desc: boolean }

/** `$orderby=phenomenonTime desc,result` */
export function parseOrderBy(src: string): OrderBy[] {
  return splitTopLevel(src, ',').map((part) => {
    const m = /^(.*?)(?:\s+(asc|desc))?$/is.exec(part.trim())!;
    if (!m[1]) throw new QuerySyntaxError(`$orderby: empty item in '${src}'`);
    return { expr: parseExpression(m[1]), desc: (m[2] ?? '').toLowerCase() === 'desc' };
  });
}

/** `$select=name,description` */
export function parseSelect(src: string): string[] {
  const names = src.split(',').map((s) => s.trim());
  for (const n of names) if (!/^[A-Za-z@][A-Za-z0-9_.@/]*$/.test(n)) throw new QuerySyntaxError(`$select: '${n}' is not a property name`);
  return names;
}

/** The options of one request or of one nested `$expand` item. */
export interface QueryOptions {
  filter?: Expr;
  orderby?: OrderBy[];
  select?: string[];
  expand?: ExpandItem[];
  top?: number;
  skip?: number;
  count?: boolean;
  /** the source text of each option given, for @iot.nextLink */
  raw: Record<string, string>;
}
export interface ExpandItem { path: string[]; options: QueryOptions }

const OPTION_NAMES = ['$filter', '$orderby', '$select', '$expand', '$top', '$skip', '$count', '$resultFormat'] as const;

/** Parses query options from name → value (already URL-decoded). Unknown `$` options are errors; others are ignored. */
export function parseQueryOptions(params: Iterable<[string, string]>): QueryOptions {
  const out: QueryOptions = { raw: {} };
  for (const [rawName, value] of params) {
    const name = rawName.trim();
    if (!name.startsWith('$')) continue;
    if (!(OPTION_NAMES as readonly string[]).includes(name)) throw new QuerySyntaxError(`unknown query option ${name}`);
    if (name in out.raw) throw new QuerySyntaxError(`${name} given twice`);
    out.raw[name] = value;
    const at = (e: unknown) => (e instanceof QuerySyntaxError ? new QuerySyntaxError(`${name}: ${e.message}`) : e);
    try {
      switch (name) {
        case '$filter': out.filter = parseExpression(value); break;
        case '$orderby': out.orderby = parseOrderBy(value); break;
        case '$select': out.select = parseSelect(value); break;
        case '$expand': out.expand = parseExpand(value); break;
        case '$top': out.top = nonNegativeInt(value); break;
        case '$skip': out.skip = nonNegativeInt(value); break;
        case '$count':
          if (value !== 'true' && value !== 'false') throw new QuerySyntaxError(`must be true or false, got '${value}'`);
          out.count = value === 'true';
          break;
        case '$resultFormat':
          if (value !== 'default') throw new QuerySyntaxError(`only 'default' is supported (no dataArray), got '${value}'`);
          break;
      }
    } catch (e) {
      throw at(e);
    }
  }
  return out;
}

function nonNegativeInt(v: string): number {
  if (!/^\d{1,9}$/.test(v.trim())) throw new QuerySyntaxError(`must be a non-negative integer, got '${v}'`);
  return Number(v);
}

/** `$expand=Datastreams($select=name;$expand=Observations($top=1)),Locations` and `Datastreams/Sensor` */
export function parseExpand(src: string): ExpandItem[] {
  return splitTopLevel(src, ',').map((part) => {
    const text = part.trim();
    const open = text.indexOf('(');
    const pathText = open < 0 ? text : text.slice(0, open);
    const path = pathText.split('/').map((s) => s.trim());
    if (path.some((s) => !/^[A-Za-z][A-Za-z0-9_]*$/.test(s))) throw new QuerySyntaxError(`'${pathText}' is not a navigation path`);
    let options: QueryOptions = { raw: {} };
    if (open >= 0) {
      if (!text.endsWith(')')) throw new QuerySyntaxError(`'${text}': options must end with ')'`);
      const inner = text.slice(open + 1, -1);
      options = parseQueryOptions(splitTopLevel(inner, ';').map((o) => {
        const eq = o.indexOf('=');
        if (eq < 0) throw new QuerySyntaxError(`'${o.trim()}' in ${pathText}(…): expected $option=value`);
        return [o.slice(0, eq).trim(), o.slice(eq + 1)] as [string, string];
      }));
    }
    // Datastreams/Observations is Datastreams($expand=Observations)
    let item: ExpandItem = { path: [path[path.length - 1]!], options };
    for (let k = path.length - 2; k >= 0; k--) item = { path: [path[k]!], options: { raw: {}, expand: [item] } };
    return item;
  });
}

/** splits at `sep` outside parentheses and quotes */
export function splitTopLevel(src: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "'") quoted = !quoted; // '' inside a string toggles twice
    else if (quoted) continue;
    else if (c === '(') depth++;
    else if (c === ')') { depth--; if (depth < 0) throw new QuerySyntaxError(`unbalanced ')' at ${i} in '${src}'`); }
    else if (c === sep && depth === 0) { parts.push(src.slice(start, i)); start = i + 1; }
  }
  if (quoted) throw new QuerySyntaxError(`unterminated string in '${src}'`);
  if (depth !== 0) throw new QuerySyntaxError(`unbalanced '(' in '${src}'`);
  parts.push(src.slice(start));
  if (parts.some((p) => p.trim() === '')) throw new QuerySyntaxError(`empty item in '${src}'`);
  return parts;
}
