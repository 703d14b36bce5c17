import { describe, expect, it } from 'vitest';
import { QuerySyntaxError, parseExpand, parseExpression, parseOrderBy, parseQueryOptions, type Expr } from './parser.ts';

/** The $filter / $orderby / $expand grammar of OGC 18-088 §9.3 (OData 4 with SensorThings' functions). */
const p = (src: string) => parseExpression(src);
const prop = (...path: string[]): Expr => ({ type: 'prop', path });
const lit = (value: unknown): Expr => ({ type: 'lit', value } as Expr);

describe('the SensorThings $filter parser', () => {
  it('reads the comparison operators of Table 33', () => {
    for (const op of ['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const) {
      expect(p(`result ${op} 10`)).toEqual({ type: 'bin', op, left: prop('result'), right: lit(10) });
    }
  });

  it('binds or < and < comparison < add/sub < mul/div/mod < not and unary minus', () => {
    expect(p('a eq 1 or b eq 2 and c eq 3')).toEqual({
      type: 'bin', op: 'or', left: p('a eq 1'), right: { type: 'bin', op: 'and', left: p('b eq 2'), right: p('c eq 3') },
    });
    expect(p('result add 2 mul 3 gt 7')).toEqual({
      type: 'bin', op: 'gt', right: lit(7),
      left: { type: 'bin', op: 'add', left: prop('result'), right: { type: 'bin', op: 'mul', left: lit(2), right: lit(3) } },
    });
    expect(p('(result sub 1) mod 2 eq 0')).toMatchObject({ left: { op: 'mod', left: { op: 'sub' } } });
    expect(p('not startswith(name, \'K\')')).toEqual({ type: 'not', expr: { type: 'call', name: 'startswith', args: [prop('name'), lit('K')] } });
    expect(p('-result lt -2.5e1')).toEqual({ type: 'bin', op: 'lt', left: { type: 'neg', expr: prop('result') }, right: lit(-25) });
  });

  it('reads literals: strings with quoted quotes, numbers, booleans, null, date-times, durations', () => {
    expect(p("name eq 'O''Brien'")).toMatchObject({ right: lit("O'Brien") });
    expect(p('phenomenonTime ge 2026-11-01T00:00:00Z')).toMatchObject({ right: lit({ time: Date.parse('2026-11-01T00:00:00Z') }) });
    expect(p('phenomenonTime ge 2026-11-01T07:00:00.5+07:00')).toMatchObject({ right: lit({ time: Date.parse('2026-11-01T00:00:00.5Z') }) });
    expect(p('date(phenomenonTime) eq 2026-11-01')).toMatchObject({ right: lit({ time: Date.parse('2026-11-01T00:00:00Z') }) });
    expect(p("phenomenonTime gt now() sub duration'P1DT2H'")).toMatchObject({ right: { op: 'sub', right: lit({ durationMs: 26 * 3_600_000 }) } });
    expect(p('x eq true or y eq null')).toMatchObject({ left: { right: lit(true) }, right: { right: lit(null) } });
  });

  it('reads property paths through navigation properties and JSON properties', () => {
    expect(p("Datastream/Thing/name eq 'Kim Long'")).toMatchObject({ left: prop('Datastream', 'Thing', 'name') });
    expect(p("properties/kind eq 'river'")).toMatchObject({ left: prop('properties', 'kind') });
  });

  it('reads geography literals without an SRID, as SensorThings clients send them', () => {
    expect(p("st_within(location, geography'POLYGON((107 16, 108 16, 108 17, 107 16))')")).toEqual({
      type: 'call', name: 'st_within', args: [prop('location'), lit({ type: 'Polygon', coordinates: [[[107, 16], [108, 16], [108, 17], [107, 16]]] })],
    });
    expect(p("geo.distance(location, geography'POINT(107.556 16.462)') lt 0.1")).toMatchObject({ left: { name: 'geo.distance', args: [prop('location'), lit({ type: 'Point', coordinates: [107.556, 16.462] })] } });
    expect(p("geo.intersects(location, geography'SRID=4326;LINESTRING(1 2, 3 4)')")).toMatchObject({ args: [prop('location'), lit({ type: 'LineString', coordinates: [[1, 2], [3, 4]] })] });
  });

  it('knows every function of Table 34 with its arity', () => {
    for (const f of ['substringof(\'a\', name)', 'endswith(name, \'a\')', 'startswith(name, \'a\')', 'length(name)', 'indexof(name, \'a\')', 'substring(name, 1, 2)',
      'tolower(name)', 'toupper(name)', 'trim(name)', 'concat(name, \'a\')', 'year(t)', 'month(t)', 'day(t)', 'hour(t)', 'minute(t)', 'second(t)',
      'fractionalseconds(t)', 'date(t)', 'time(t)', 'totaloffsetminutes(t)', 'now()', 'mindatetime()', 'maxdatetime()', 'round(r)', 'floor(r)', 'ceiling(r)']) {
      expect(() => p(`${f} eq 1`), f).not.toThrow();
    }
    expect(() => p('length(a, b) eq 1')).toThrow(/takes 1 arguments, got 2/);
    expect(() => p('frobnicate(a) eq 1')).toThrow(/unknown function frobnicate/);
  });

  it('refuses what is not the grammar, saying where', () => {
    for (const bad of ['name eq', 'name eq \'open', '(a eq 1', 'a eq 1)', 'a eq 1 b', "st_within(location, geography'CIRCLE(1 2)')", "duration'P' eq 1", 'a # b']) {
      expect(() => p(bad), bad).toThrow(QuerySyntaxError);
    }
    expect(() => p('name eq')).toThrow(/expected an expression at 7, found the end/);
  });
});

describe('$orderby, $expand and the query options', () => {
  it('reads $orderby items with asc and desc', () => {
    expect(parseOrderBy('phenomenonTime desc, result')).toEqual([{ expr: prop('phenomenonTime'), desc: true }, { expr: prop('result'), desc: false }]);
  });

  it('reads nested $expand with options separated by ; (18-088 §9.3.2.1)', () => {
    const [ds] = parseExpand('Datastreams($select=name;$expand=Observations($top=1;$orderby=phenomenonTime desc)),Locations');
    expect(ds!.path).toEqual(['Datastreams']);
    expect(ds!.options.select).toEqual(['name']);
    const [obs] = ds!.options.expand!;
    expect(obs!.options).toMatchObject({ top: 1, orderby: [{ expr: prop('phenomenonTime'), desc: true }] });
    expect(parseExpand('Datastreams/Sensor')).toEqual([{ path: ['Datastreams'], options: { raw: {}, expand: [{ path: ['Sensor'], options: { raw: {} } }] } }]);
    // a ; or ) inside a string literal is not a separator
    expect(parseExpand("Datastreams($filter=name eq 'a;b)')")[0]!.options.filter).toMatchObject({ right: lit('a;b)') });
  });

  it('refuses bad options with the option named', () => {
    expect(() => parseQueryOptions([['$top', '-1']])).toThrow(/\$top: must be a non-negative integer/);
    expect(() => parseQueryOptions([['$count', 'yes']])).toThrow(/\$count: must be true or false/);
    expect(() => parseQueryOptions([['$frobnicate', '1']])).toThrow(/unknown query option \$frobnicate/);
    expect(() => parseQueryOptions([['$expand', 'Datastreams($top=x)']])).toThrow(/\$expand: \$top/);
    expect(() => parseQueryOptions([['$expand', 'Datastreams($top=1']])).toThrow(/unbalanced/);
    expect(parseQueryOptions([['other', 'x'], ['$top', '3']])).toEqual({ raw: { $top: '3' }, top: 3 });
  });
});
