import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident } from './influxql.ts';
import { LineProtocolError, toLine, type FieldValue, type LinePoint } from './line-protocol.ts';
import { influxql, startInfluxd, type RunningServer } from './test-servers.ts';

/**
 * The encode cases of influxdata's public line-protocol corpus
 * (https://github.com/influxdata/line-protocol-corpus, corpus.json at commit 01c7ca41; see
 * test/fixtures/line-protocol/README.md for what was taken and the licence situation).
 * Each case is a point and either the line the reference encoder writes or an error. Our serializer
 * must write the same line (or refuse), and every line must survive a write to a real InfluxDB 1.6.7
 * and a read back with InfluxQL: same measurement, tags, field values, field types and timestamp.
 */

type FieldType = 'float' | 'int' | 'string' | 'bool';
interface CorpusCase {
  key: string;
  from: string;
  about?: string;
  /** nanoseconds, decimal */
  time: string;
  name: string;
  tags: Array<[string, string]>;
  /** float: JSON number; int: decimal string (int64); string; bool */
  fields: Array<[string, FieldType, number | string | boolean]>;
  line?: string;
  error?: string;
}

const fixture = JSON.parse(
  readFileSync(new URL('../test/fixtures/line-protocol/encode-cases.json', import.meta.url), 'utf8'),
) as { commit: string; cases: CorpusCase[] };
const CASES = fixture.cases;
const ENCODED = CASES.filter((c) => c.line !== undefined);

/**
 * Cases where our line differs from the reference's only in how a float is spelled. The reference
 * encoder formats floats with Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which switches to an
 * exponent from 1e6 up (`6.632243e+06`); we print JS's shortest round-trip decimal (`6632243`).
 * Both are valid line protocol for the same double; the round trip below checks InfluxDB stores it.
 */
const FLOAT_SPELLING: Readonly<Record<string, string>> = {
  '34f17db4b263f6f2647d931eae615510': 'cpu value=6632243 1000000000',
};

function toPoint(c: CorpusCase): LinePoint {
  const fields: Record<string, FieldValue> = {};
  for (const [key, type, value] of c.fields) fields[key] = type === 'int' ? BigInt(value as string) : value;
  return { measurement: c.name, tags: Object.fromEntries(c.tags), fields, ts: BigInt(c.time) };
}

/** Every float field value rewritten as JS prints that double: equal results = same values. */
function normaliseFloats(line: string): string {
  return line.replace(/=(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?=[ ,])/g, (_, n: string) => `=${Number(n)}`);
}

function label(c: CorpusCase): string {
  return `${c.key.slice(0, 8)} ${JSON.stringify(c.line ?? `${c.about ?? ''} → error`).slice(0, 90)}`;
}

describe('line-protocol corpus: encode cases', () => {
  it('holds every encode case of the corpus (115: 114 lines and 1 refusal)', () => {
    expect(fixture.commit).toBe('01c7ca4179bcc45bb9bd9384f16027ba9e78cfa6');
    expect(new Set(CASES.map((c) => c.key)).size).toBe(115);
    expect(ENCODED).toHaveLength(114);
    expect(CASES.filter((c) => c.error !== undefined)).toHaveLength(1);
  });

  for (const c of CASES) {
    if (c.error !== undefined) {
      it(`refuses ${label(c)} as the reference does`, () => {
        expect(() => toLine(toPoint(c))).toThrow(LineProtocolError);
      });
    } else if (FLOAT_SPELLING[c.key] !== undefined) {
      it(`writes ${label(c)} with the same values, a float spelled differently`, () => {
        const ours = toLine(toPoint(c));
        expect(ours).toBe(FLOAT_SPELLING[c.key]);
        expect(ours).not.toBe(c.line); // if this ever matches, drop the exception
        expect(normaliseFloats(ours)).toBe(normaliseFloats(c.line!));
      });
    } else {
      it(`writes ${label(c)} as the reference does`, () => {
        expect(toLine(toPoint(c))).toBe(c.line);
      });
    }
  }
});

const INFLUX_TYPE: Record<FieldType, string> = { float: 'float', int: 'integer', string: 'string', bool: 'boolean' };

interface Series { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }

describe('line-protocol corpus: round trip through InfluxDB 1.6.7', () => {
  let influxd: RunningServer;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(async () => {
    await influxd?.stop();
  });

  // one database per case: the corpus writes field "a" of measurement "test" both as float and as
  // integer, which InfluxDB refuses within one shard (a field has one type)
  ENCODED.forEach((c, i) => {
    it(`reads back ${label(c)} exactly as written`, async () => {
      const db = `lpc_${i}`;
      await influxql(influxd.url, `CREATE DATABASE ${ident(db)}`);
      const res = await fetch(`${influxd.url}/write?db=${db}&precision=ns`, { method: 'POST', body: toLine(toPoint(c)) });
      expect(res.status, await res.text()).toBe(204);

      const measurements = await influxql(influxd.url, 'SHOW MEASUREMENTS', { db });
      expect(measurements.results?.[0]?.series?.[0]?.values).toEqual([[c.name]]);

      const fieldKeys = await influxql(influxd.url, `SHOW FIELD KEYS FROM ${ident(c.name)}`, { db });
      const types = Object.fromEntries((fieldKeys.results?.[0]?.series?.[0]?.values ?? []) as Array<[string, string]>);
      expect(types).toEqual(Object.fromEntries(c.fields.map(([k, t]) => [k, INFLUX_TYPE[t]])));

      const q = new URLSearchParams({ db, epoch: 'ns', q: `SELECT * FROM ${ident(c.name)} GROUP BY *` });
      const text = await (await fetch(`${influxd.url}/query?${q}`)).text();
      // keep integers beyond 2^53 (int64 fields, ns timestamps) as their digits: JSON.parse rounds them
      const body = JSON.parse(text.replace(/(?<=[[,])(-?\d{16,})(?=[,\]])/g, '"$1"')) as { results: Array<{ series?: Series[] }> };
      const series = body.results[0]?.series ?? [];
      expect(series, text).toHaveLength(1);
      const [s] = series as [Series];
      expect(s.name).toBe(c.name);
      expect(s.tags ?? {}).toEqual(Object.fromEntries(c.tags));
      expect(s.values).toHaveLength(1);
      const row = Object.fromEntries(s.columns.map((col, j) => [col, s.values[0]![j]]));
      const expected: Record<string, unknown> = { time: c.time };
      for (const [k, , v] of c.fields) expected[k] = v;
      expect({ ...row, time: String(row.time), ...intsAsText(row, c) }).toEqual(expected);
    });
  });
});

/** Integer fields as decimal text, whether InfluxDB's JSON held them as a number or (past 2^53) as our quoted digits. */
function intsAsText(row: Record<string, unknown>, c: CorpusCase): Record<string, unknown> {
  return Object.fromEntries(c.fields.filter(([, t]) => t === 'int').map(([k]) => [k, String(row[k])]));
}
