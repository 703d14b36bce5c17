/**
 * NMEA 0183 framing of AIS sentences (IEC 61162-1 §7.3; ITU-R M.1371 annex 8 for the payload).
 * `!AIVDM,<count>,<number>,<seqId>,<channel>,<payload>,<fillBits>*<checksum>`. Pure: one line in,
 * one parsed sentence or one stable rejection reason out.
 */

export interface AisSentence {
  /** `AIVDM` (others) or `AIVDO` (own ship); the talker may be AI, AB, BS, SA… */
  formatter: string;
  own: boolean;
  fragmentCount: number;
  fragmentNumber: number;
  /** sequential message id 0–9 tying the fragments of a multipart message; '' for single part */
  seqId: string;
  /** VHF channel A/B (1/2 on some receivers); '' when the receiver leaves it out */
  channel: string;
  payload: string;
  fillBits: number;
  raw: string;
}

export type SentenceReject = 'checksum' | 'truncated' | 'garbage' | 'not_ais';

/** IEC 61162-1 limits a sentence to 82 characters; receivers in the field exceed it a little. */
export const MAX_SENTENCE_LENGTH = 200;
/** Multipart AIS messages use at most 5 fragments (type 26 is the longest, 1,064 bits). */
export const MAX_FRAGMENTS = 9;

const AIS_FORMATTER = /^![A-Z]{2}VD[MO]$/;
/** ITU-R M.1371 annex 8 §3.3.7: the 6-bit armour uses ASCII 48–87 and 96–119. */
const PAYLOAD_CHARS = /^[0-W`-w]*$/;

/** XOR of every character between `!` (or `$`) and `*` (IEC 61162-1 §7.2.3). */
export function nmeaChecksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum;
}

export function parseSentence(input: string): { ok: true; sentence: AisSentence } | { ok: false; reason: SentenceReject } {
  // A receiver may prefix an IEC 62320 tag block `\s:rcv,c:1234*hh\`: the sentence follows it.
  let line = input.trim();
  if (line.startsWith('\\')) {
    const end = line.indexOf('\\', 1);
    if (end < 0) return { ok: false, reason: 'truncated' };
    line = line.slice(end + 1);
  }
  if (line.length === 0 || line.length > MAX_SENTENCE_LENGTH) return { ok: false, reason: 'garbage' };
  if (line[0] !== '!' && line[0] !== '$') return { ok: false, reason: 'garbage' };
  // The payload armour has no `*`, so the first one starts the checksum. Some receivers append
  // their own fields after it (`*5B,s36310,d-081,T59.01`: signal strength, time): ignored.
  const star = line.indexOf('*');
  if (star < 0 || star + 3 > line.length) return { ok: false, reason: 'truncated' };
  const hex = line.slice(star + 1, star + 3);
  if (!/^[0-9A-Fa-f]{2}$/.test(hex) || (line.length > star + 3 && line[star + 3] !== ',')) return { ok: false, reason: 'garbage' };
  const given = Number.parseInt(hex, 16);
  if (nmeaChecksum(line.slice(1, star)) !== given) return { ok: false, reason: 'checksum' };
  const f = line.slice(0, star).split(',');
  if (!AIS_FORMATTER.test(f[0] ?? '')) return { ok: false, reason: 'not_ais' };
  if (f.length !== 7) return { ok: false, reason: 'truncated' };
  const [formatter, count, num, seqId, channel, payload, fill] = f as [string, string, string, string, string, string, string];
  const fragmentCount = Number(count);
  const fragmentNumber = Number(num);
  const fillBits = Number(fill);
  if (!/^\d$/.test(count) || !/^\d$/.test(num) || fragmentCount < 1 || fragmentNumber < 1 || fragmentNumber > fragmentCount) {
    return { ok: false, reason: 'garbage' };
  }
  if (!/^\d?$/.test(seqId) || !/^[0-5]$/.test(fill) || !PAYLOAD_CHARS.test(payload) || payload.length === 0) {
    return { ok: false, reason: 'garbage' };
  }
  return {
    ok: true,
    sentence: { formatter: formatter.slice(1), own: formatter.endsWith('O'), fragmentCount, fragmentNumber, seqId, channel, payload, fillBits, raw: line },
  };
}

/** Builds a sentence with its checksum: used by the simulator and the tests. */
export function formatSentence(fields: { formatter?: string; count: number; number: number; seqId: string; channel: string; payload: string; fillBits: number }): string {
  const body = `${fields.formatter ?? 'AIVDM'},${fields.count},${fields.number},${fields.seqId},${fields.channel},${fields.payload},${fields.fillBits}`;
  return `!${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
}
