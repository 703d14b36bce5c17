import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident } from './influxql.ts';
import { LineProtocolError, toLine, type LinePoint } from './line-protocol.ts';
import { influxql, startInfluxd, type RunningServer } from './test-servers.ts';

/**
 * Escaping cases written from the line protocol reference, "Special characters"
 * (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/#special-characters):
 * measurements escape commas and spaces; tag keys, tag values and field keys escape commas, equals
 * signs and spaces; string field values escape double quotes and backslashes; integers are int64
 * with a trailing `i`. influxdata's own corpus is run by line-protocol-corpus.test.ts; these are our cases.
 * Each is checked as text, then written to a real InfluxDB 1.6.7 and read back.
 */
const TS = 1_727_740_800_123; // ms
const CASES: Array<{ name: string; point: LinePoint; line: string }> = [
  {
    name: 'a measurement with a comma and a space',
    point: { measurement: 'wea,ther now', tags: { location: 'us' }, fields: { temperature: 82 }, ts: TS },
    line: `wea\\,ther\\ now,location=us temperature=82 ${TS}`,
  },
  {
    name: 'a measurement with an equals sign and a double quote, which need no escape there',
    point: { measurement: 'wea=ther"', tags: { location: 'us' }, fields: { temperature: 82 }, ts: TS },
    line: `wea=ther",location=us temperature=82 ${TS}`,
  },
  {
    name: 'tag keys and tag values with commas, equals signs and spaces',
    point: { measurement: 'm', tags: { 'loc ation': 'us,mid west', 'a=b': 'x=y', 'c,d': 'e' }, fields: { v: 1 }, ts: TS },
    line: `m,a\\=b=x\\=y,c\\,d=e,loc\\ ation=us\\,mid\\ west v=1 ${TS}`,
  },
  {
    name: 'field keys with commas, equals signs and spaces',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { 'temp,c': 1, 'temp=c': 2, 'temp c': 3 }, ts: TS },
    line: `m,t=x temp\\,c=1,temp\\=c=2,temp\\ c=3 ${TS}`,
  },
  {
    name: 'a string field with double quotes',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { condition: 'too "hot"' }, ts: TS },
    line: `m,t=x condition="too \\"hot\\"" ${TS}`,
  },
  {
    name: 'a string field with backslashes, a trailing one included',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { path: 'C:\\dir\\', two: '\\\\' }, ts: TS },
    line: `m,t=x path="C:\\\\dir\\\\",two="\\\\\\\\" ${TS}`,
  },
  {
    name: 'a string field with commas, spaces and equals signs, which need no escape there',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { note: 'a, b=c d', empty: '' }, ts: TS },
    line: `m,t=x note="a, b=c d",empty="" ${TS}`,
  },
  {
    name: 'the int64 limits, written from bigint through a decimal string',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { max: 2n ** 63n - 1n, min: -(2n ** 63n), zero: 0n }, ts: TS },
    line: `m,t=x max=9223372036854775807i,min=-9223372036854775808i,zero=0i ${TS}`,
  },
  {
    name: 'floats at the edges of a double, negative zero and an exponent',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { big: Number.MAX_VALUE, tiny: Number.MIN_VALUE, exp: 1e21, nz: -0, v: 2.31 }, ts: TS },
    line: `m,t=x big=1.7976931348623157e+308,tiny=5e-324,exp=1e+21,nz=0,v=2.31 ${TS}`,
  },
  {
    name: 'Vietnamese and emoji in every part',
    point: { measurement: 'mực_nước', tags: { 'trạm': 'Huế 🌊' }, fields: { 'giá trị': 1.5, 'ghi chú': 'lũ "lớn"' }, ts: TS },
    line: `mực_nước,trạm=Huế\\ 🌊 giá\\ trị=1.5,ghi\\ chú="lũ \\"lớn\\"" ${TS}`,
  },
  {
    name: 'a backslash inside a tag value, kept as a literal backslash',
    point: { measurement: 'm', tags: { p: 'a\\b' }, fields: { v: 1 }, ts: TS },
    line: `m,p=a\\b v=1 ${TS}`,
  },
  {
    name: 'booleans',
    point: { measurement: 'm', tags: { t: 'x' }, fields: { ok: true, bad: false }, ts: TS },
    line: `m,t=x ok=true,bad=false ${TS}`,
  },
];

describe('line protocol serializer', () => {
  for (const c of CASES) {
    it(`writes ${c.name} as the reference says`, () => {
      expect(toLine(c.point)).toBe(c.line);
    });
  }

  const base: LinePoint = { measurement: 'm', tags: { t: 'x' }, fields: { v: 1 }, ts: TS };
  const refused: Array<[string, LinePoint]> = [
    ['an empty tag value (the client\'s Point drops the tag instead)', { ...base, tags: { t: '' } }],
    ['an empty measurement', { ...base, measurement: '' }],
    ['a tag value ending in a backslash (InfluxDB 1.6.7: "invalid tag format")', { ...base, tags: { t: 'x\\' } }],
    ['a newline in a tag value', { ...base, tags: { t: 'a\nb' } }],
    ['NaN', { ...base, fields: { v: Number.NaN } }],
    ['Infinity', { ...base, fields: { v: Number.POSITIVE_INFINITY } }],
    ['an integer past int64 max', { ...base, fields: { v: 2n ** 63n } }],
    ['a point without fields', { ...base, fields: {} }],
    ['a fractional timestamp', { ...base, ts: TS + 0.5 }],
  ];
  for (const [what, point] of refused) {
    it(`refuses ${what} instead of writing a different line`, () => {
      expect(() => toLine(point)).toThrow(LineProtocolError);
    });
  }
});

describe('line protocol round trip through InfluxDB 1.6.7', () => {
  let influxd: RunningServer;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(async () => {
    await influxd?.stop();
  });

  CASES.forEach((c, i) => {
    it(`reads back ${c.name} exactly as written`, async () => {
      const db = `lp_${i}`;
      await influxql(influxd.url, `CREATE DATABASE ${ident(db)}`);
      const res = await fetch(`${influxd.url}/write?db=${db}&precision=ms`, { method: 'POST', body: toLine(c.point) });
      expect(res.status, await res.text()).toBe(204);
      const q = new URLSearchParams({ db, epoch: 'ms', q: `SELECT * FROM ${ident(c.point.measurement)} GROUP BY *` });
      const text = await (await fetch(`${influxd.url}/query?${q}`)).text();
      // keep integers beyond 2^53 as their digits: JSON.parse would round int64 max to a double
      const body = JSON.parse(text.replace(/(?<=[[,])(-?\d{16,})(?=[,\]])/g, '"$1"')) as {
        results: Array<{ series: Array<{ name: string; tags: Record<string, string>; columns: string[]; values: unknown[][] }> }>;
      };
      const [series] = body.results[0]!.series;
      expect(series!.name).toBe(c.point.measurement);
      expect(series!.tags).toEqual(c.point.tags);
      const row = Object.fromEntries(series!.columns.map((col, j) => [col, series!.values[0]![j]]));
      const expected = Object.fromEntries(Object.entries(c.point.fields).map(([k, v]) =>
        [k, typeof v === 'bigint' ? (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString()) : Object.is(v, -0) ? 0 : v]));
      expect(row).toEqual({ time: TS, ...expected });
    });
  });
});
