import { BitWriter } from '../ingest/ais/bits.ts';
import { formatSentence } from '../ingest/ais/nmea.ts';

/**
 * AIS encoder for the simulator (ITU-R M.1371-5 annex 8): class A position (1) and static (5),
 * class B position (18) and static (24 A/B), as `!AIVDM` sentences with checksums. Missing values
 * are sent as the standard's "not available" codes. The decoder in ingest/ais reads them back
 * (firmware-sim/ais-encode.test.ts), and the same lines feed the end-to-end test.
 */

/** A payload longer than this is split into fragments (IEC 61162-1: 82 characters a sentence). */
const MAX_PAYLOAD_CHARS = 60;

export interface EncodePosition {
  mmsi: number;
  lat?: number;
  lon?: number;
  sog?: number;
  cog?: number;
  heading?: number;
  /** UTC second of the fix */
  second?: number;
  navStatus?: number;
}

const lonRaw = (v?: number) => (v === undefined ? 181 * 600_000 : Math.round(v * 600_000));
const latRaw = (v?: number) => (v === undefined ? 91 * 600_000 : Math.round(v * 600_000));
const sogRaw = (v?: number) => (v === undefined ? 1023 : Math.min(1022, Math.round(v * 10)));
const cogRaw = (v?: number) => (v === undefined ? 3600 : Math.round(v * 10) % 3600);
const hdgRaw = (v?: number) => (v === undefined ? 511 : Math.round(v) % 360);

export function encodeType1(p: EncodePosition): BitWriter {
  return new BitWriter()
    .uint(1, 6).uint(0, 2).uint(p.mmsi, 30).uint(p.navStatus ?? 7, 4).int(-128, 8).uint(sogRaw(p.sog), 10).bool(false)
    .int(lonRaw(p.lon), 28).int(latRaw(p.lat), 27).uint(cogRaw(p.cog), 12).uint(hdgRaw(p.heading), 9).uint(p.second ?? 60, 6)
    .uint(0, 2).uint(0, 3).bool(false).uint(0, 19);
}

export function encodeType18(p: EncodePosition): BitWriter {
  return new BitWriter()
    .uint(18, 6).uint(0, 2).uint(p.mmsi, 30).uint(0, 8).uint(sogRaw(p.sog), 10).bool(false)
    .int(lonRaw(p.lon), 28).int(latRaw(p.lat), 27).uint(cogRaw(p.cog), 12).uint(hdgRaw(p.heading), 9).uint(p.second ?? 60, 6)
    .uint(0, 2).bool(true).bool(false).bool(false).bool(true).bool(false).bool(false).bool(false).uint(0, 20);
}

export interface EncodeStatic {
  mmsi: number;
  name: string;
  callsign?: string;
  /** AIS ship type; 30 = fishing (M.1371 table 53) */
  shiptype?: number;
  lengthM: number;
  beamM?: number;
  destination?: string;
}

function dims(w: BitWriter, s: EncodeStatic): BitWriter {
  const bow = Math.round(s.lengthM * 0.6);
  const beam = Math.round(s.beamM ?? s.lengthM / 4);
  return w.uint(bow, 9).uint(Math.round(s.lengthM) - bow, 9).uint(Math.floor(beam / 2), 6).uint(beam - Math.floor(beam / 2), 6);
}

export function encodeType5(s: EncodeStatic): BitWriter {
  const w = new BitWriter().uint(5, 6).uint(0, 2).uint(s.mmsi, 30).uint(0, 2).uint(0, 30).text(s.callsign ?? '', 7).text(s.name, 20).uint(s.shiptype ?? 30, 8);
  return dims(w, s).uint(1, 4).uint(0, 4).uint(0, 5).uint(24, 5).uint(60, 6).uint(0, 8).text(s.destination ?? '', 20).bool(false).uint(0, 1);
}

export function encodeType24(s: EncodeStatic): [BitWriter, BitWriter] {
  const a = new BitWriter().uint(24, 6).uint(0, 2).uint(s.mmsi, 30).uint(0, 2).text(s.name, 20).uint(0, 8);
  const b = new BitWriter().uint(24, 6).uint(0, 2).uint(s.mmsi, 30).uint(1, 2).uint(s.shiptype ?? 30, 8).text('HWS', 3).uint(0, 4).uint(0, 20).text(s.callsign ?? '', 7);
  return [a, dims(b, s).uint(0, 6)];
}

/** Armours a message into one or more sentences; `seqId` (0–9) ties the fragments together. */
export function toSentences(w: BitWriter, opts: { channel?: 'A' | 'B'; seqId?: number } = {}): string[] {
  const { payload, fillBits } = w.armour();
  const parts: string[] = [];
  for (let i = 0; i < payload.length; i += MAX_PAYLOAD_CHARS) parts.push(payload.slice(i, i + MAX_PAYLOAD_CHARS));
  const seqId = parts.length > 1 ? String((opts.seqId ?? 0) % 10) : '';
  return parts.map((p, i) => formatSentence({ count: parts.length, number: i + 1, seqId, channel: opts.channel ?? 'A', payload: p, fillBits: i === parts.length - 1 ? fillBits : 0 }));
}
