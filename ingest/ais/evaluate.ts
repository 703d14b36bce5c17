/**
 * Evaluation of AIS decoders on gpsd's regression cases, for the types HueWatch needs.
 * Run: `node --import tsx ingest/ais/evaluate.ts`. Prints, per decoder, cases matching gpsd per
 * type and the decode rate. The candidates are devDependencies, loaded only here.
 * Figures are recorded in ingest/ais/README.md.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { AisDecoder } from './decoder.ts';
import { compare, EVALUATED_TYPES, loadGpsdCases, normaliseOurs, type GpsdCase, type Normalised } from './gpsd-cases.ts';

const require = createRequire(import.meta.url);
type Loose = Record<string, unknown>;
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** One decoder: all sentences of one case in, the last decoded message out (normalised). */
interface Candidate {
  name: string;
  decodeCase(sentences: string[]): Normalised | undefined;
}

const ours: Candidate = {
  name: 'huewatch (ingest/ais)',
  decodeCase(sentences) {
    const out = new AisDecoder().feed(sentences.join('\n'), 0);
    const last = out.at(-1);
    return last && normaliseOurs(last.message);
  },
};

/** ais-stream-decoder 2.x: a Transform stream; `_transform` is synchronous, so call it directly. */
function aisStreamDecoder(): Candidate {
  const AisStream = (require('ais-stream-decoder') as { default: new (o: Loose) => Loose }).default;
  return {
    name: 'ais-stream-decoder ' + (require('ais-stream-decoder/package.json') as { version: string }).version,
    decodeCase(sentences) {
      const d = new AisStream({ silent: true }) as Loose & { _transform(c: Buffer, e: string, cb: (err?: Error) => void): void; push(s: string): boolean };
      let last: Loose | undefined;
      d.push = (s: string) => ((last = JSON.parse(s) as Loose), true);
      for (const s of sentences) d._transform(Buffer.from(s), 'utf8', () => undefined);
      if (!last) return undefined;
      const m = last;
      return {
        type: num(m.type), mmsi: num(m.mmsi), status: num(m.navStatus), lat: num(m.lat), lon: num(m.lon),
        speed: num(m.speedOverGround), course: num(m.courseOverGround), heading: num(m.heading),
        shipname: str(m.name), callsign: str(m.callsign), shiptype: num(m.typeAndCargo), imo: num(m.imo),
        destination: str(m.destination), draught: num(m.draught), partno: num(m.partNum),
        to_bow: num(m.dimBow), to_stern: num(m.dimStern), to_port: num(m.dimPort), to_starboard: num(m.dimStarboard),
        mothership_mmsi: num(m.mothershipMMSI),
      };
    },
  };
}

/** ggencoder 1.x: `new AisDecode(sentence, session)`; multipart needs one session object per message. */
function ggencoder(): Candidate {
  const { AisDecode } = require('ggencoder') as { AisDecode: new (s: string, session?: Loose) => Loose };
  return {
    name: 'ggencoder ' + (require('ggencoder/package.json') as { version: string }).version,
    decodeCase(sentences) {
      const session: Loose = {};
      let m: Loose | undefined;
      for (const s of sentences) {
        try {
          const d = new AisDecode(s, session);
          if (d.aistype !== undefined) m = d;
        } catch {
          return undefined; // it throws on a multipart sentence without a session; counted as a miss
        }
      }
      if (!m) return undefined;
      const aux = m.aistype === 24 && m.part === 1 && m.mothership !== undefined;
      return {
        type: num(m.aistype), mmsi: Number(m.mmsi), status: num(m.navstatus), lat: num(m.lat), lon: num(m.lon),
        speed: num(m.sog), course: num(m.cog), heading: num(m.hdg),
        shipname: str(m.shipname), callsign: str(m.callsign), shiptype: num(m.cargo), imo: num(m.imo),
        destination: str(m.destination), draught: num(m.draught), partno: num(m.part),
        to_bow: num(m.dimA), to_stern: num(m.dimB), to_port: num(m.dimC), to_starboard: num(m.dimD),
        mothership_mmsi: aux ? Number(m.mothership) : undefined, aid_type: num(m.aidtype), name: m.aistype === 21 ? str(m.shipname) : undefined,
      };
    },
  };
}

export interface EvaluationRow {
  decoder: string;
  perType: Record<number, { pass: number; total: number }>;
  pass: number;
  total: number;
  casesPerSecond: number;
}

export function evaluate(candidates: Candidate[], cases: GpsdCase[], timeBudgetMs = 500): EvaluationRow[] {
  const wanted = cases.filter((c) => (EVALUATED_TYPES as readonly number[]).includes(c.expected.type));
  return candidates.map((cand) => {
    const perType: EvaluationRow['perType'] = {};
    let pass = 0;
    for (const c of wanted) {
      let got: Normalised | undefined;
      try {
        got = cand.decodeCase(c.sentences);
      } catch {
        got = undefined;
      }
      const row = (perType[c.expected.type] ??= { pass: 0, total: 0 });
      row.total++;
      if (compare(c, got).length === 0) (row.pass++, pass++);
    }
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < timeBudgetMs) for (const c of wanted) (cand.decodeCase(c.sentences), n++);
    return { decoder: cand.name, perType, pass, total: wanted.length, casesPerSecond: Math.round((n / (performance.now() - t0)) * 1000) };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = evaluate([ours, aisStreamDecoder(), ggencoder()], loadGpsdCases());
  const head = ['decoder', ...EVALUATED_TYPES.map((t) => `type ${t}`), 'all', 'cases/s'];
  process.stdout.write(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|\n`);
  for (const r of rows) {
    const cells = EVALUATED_TYPES.map((t) => `${r.perType[t]?.pass ?? 0}/${r.perType[t]?.total ?? 0}`);
    process.stdout.write(`| ${r.decoder} | ${cells.join(' | ')} | ${r.pass}/${r.total} | ${r.casesPerSecond.toLocaleString('en')} |\n`);
  }
}
