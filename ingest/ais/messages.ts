import { BitReader } from './bits.ts';

/**
 * Decoding of the AIS messages a fisheries monitor needs (ITU-R M.1371-5 annex 8 §3): class A
 * position (1, 2, 3), base station (4), class A static and voyage (5), class B position (18),
 * extended class B (19), aid to navigation (21), class B static (24 parts A and B).
 * "Not available" values (lon 181, lat 91, SOG 102.3, COG 360, heading 511, IMO 0, draught 0)
 * decode to `undefined`: they are absences, never positions or numbers to compute with.
 */

export interface Dimensions {
  /** metres from the reference point to the bow, stern, port and starboard (M.1371 fig. 42) */
  toBow: number;
  toStern: number;
  toPort: number;
  toStarboard: number;
}

interface Base {
  repeat: number;
  mmsi: number;
}
interface Kinematics {
  lat?: number;
  lon?: number;
  /** knots */
  sog?: number;
  /** degrees true */
  cog?: number;
  /** degrees true */
  heading?: number;
  accuracy: boolean;
  /** UTC second of the fix, 0–59; undefined for 60–63 (not available, manual, dead reckoning, inoperative) */
  second?: number;
}

export type AisMessage =
  | (Base & Kinematics & { type: 1 | 2 | 3; navStatus: number; rot?: number })
  | (Base & Kinematics & { type: 18 })
  | (Base & Kinematics & { type: 19; shipname: string; shiptype: number; dimensions: Dimensions; epfd: number })
  | (Base & { type: 4; utc?: string; lat?: number; lon?: number; accuracy: boolean; epfd: number })
  | (Base & {
      type: 5;
      aisVersion: number;
      imo?: number;
      callsign: string;
      shipname: string;
      shiptype: number;
      dimensions: Dimensions;
      epfd: number;
      eta?: { month: number; day: number; hour: number; minute: number };
      /** metres */
      draught?: number;
      destination: string;
    })
  | (Base & { type: 21; aidType: number; name: string; lat?: number; lon?: number; accuracy: boolean; dimensions: Dimensions; offPosition: boolean; virtualAid: boolean })
  | (Base & { type: 24; part: 'A'; shipname: string })
  | (Base & { type: 24; part: 'B'; shiptype: number; vendorId: string; callsign: string; dimensions?: Dimensions; mothershipMmsi?: number });

export type AisType = AisMessage['type'];
export const SUPPORTED_TYPES: readonly number[] = [1, 2, 3, 4, 5, 18, 19, 21, 24];

export type MessageReject = 'unsupported_type' | 'too_short';

/**
 * Shortest payload accepted per type, in bits. The standard lengths are 168 (1–4, 18), 424 (5),
 * 312 (19), 272–360 (21), 160/168 (24). Transmitters in the field cut the radio-status tail or the
 * DTE bit (gpsd decodes those too), so the minimum is where the last field we use ends.
 */
const MIN_BITS: Record<number, number> = { 1: 149, 2: 149, 3: 149, 4: 138, 5: 422, 18: 139, 19: 305, 21: 270, 24: 160 };

/** M.1371 §3.3.8.2.3: lon/lat in 1/10,000 min; 181° / 91° mean not available. */
function lonOf(b: BitReader, start: number): number | undefined {
  const v = b.int(start, 28) / 600_000;
  return v >= -180 && v <= 180 ? v : undefined;
}
function latOf(b: BitReader, start: number): number | undefined {
  const v = b.int(start, 27) / 600_000;
  return v >= -90 && v <= 90 ? v : undefined;
}
/** SOG in 1/10 kn; 1023 = not available, 1022 = 102.2 kn or more. */
function sogOf(b: BitReader, start: number): number | undefined {
  const v = b.uint(start, 10);
  return v === 1023 ? undefined : v / 10;
}
/** COG in 1/10°; 3600 = not available, above is invalid. */
function cogOf(b: BitReader, start: number): number | undefined {
  const v = b.uint(start, 12);
  return v >= 3600 ? undefined : v / 10;
}
/** True heading 0–359; 511 = not available. */
function headingOf(b: BitReader, start: number): number | undefined {
  const v = b.uint(start, 9);
  return v <= 359 ? v : undefined;
}
function secondOf(b: BitReader, start: number): number | undefined {
  const v = b.uint(start, 6);
  return v < 60 ? v : undefined;
}
function dimensionsOf(b: BitReader, start: number): Dimensions {
  return { toBow: b.uint(start, 9), toStern: b.uint(start + 9, 9), toPort: b.uint(start + 18, 6), toStarboard: b.uint(start + 24, 6) };
}

/** MMSIs 98MIDxxxx are craft associated with a parent ship (M.585 annex 1 §3). */
export const isAuxiliaryMmsi = (mmsi: number) => Math.floor(mmsi / 10_000_000) === 98;

/** Decodes one reassembled payload. */
export function decodePayload(payload: string, fillBits: number): { ok: true; message: AisMessage } | { ok: false; reason: MessageReject; type: number } {
  const b = new BitReader(payload, fillBits);
  const type = b.uint(0, 6);
  const min = MIN_BITS[type];
  if (min === undefined) return { ok: false, reason: 'unsupported_type', type };
  if (b.length < min) return { ok: false, reason: 'too_short', type };
  const base = { repeat: b.uint(6, 2), mmsi: b.uint(8, 30) };
  let message: AisMessage;
  switch (type) {
    case 1:
    case 2:
    case 3: {
      const rot = b.int(42, 8);
      message = {
        type,
        ...base,
        navStatus: b.uint(38, 4),
        // -128 = no turn information (M.1371 table 45)
        ...(rot === -128 ? {} : { rot }),
        sog: sogOf(b, 50),
        accuracy: b.bool(60),
        lon: lonOf(b, 61),
        lat: latOf(b, 89),
        cog: cogOf(b, 116),
        heading: headingOf(b, 128),
        second: secondOf(b, 137),
      };
      break;
    }
    case 4: {
      const [year, month, day, hour, minute, second] = [b.uint(38, 14), b.uint(52, 4), b.uint(56, 5), b.uint(61, 5), b.uint(66, 6), b.uint(72, 6)];
      const valid = year > 0 && month > 0 && day > 0 && hour < 24 && minute < 60 && second < 60;
      const p2 = (n: number) => String(n).padStart(2, '0');
      message = {
        type,
        ...base,
        utc: valid ? `${String(year).padStart(4, '0')}-${p2(month)}-${p2(day)}T${p2(hour)}:${p2(minute)}:${p2(second)}Z` : undefined,
        accuracy: b.bool(78),
        lon: lonOf(b, 79),
        lat: latOf(b, 107),
        epfd: b.uint(134, 4),
      };
      break;
    }
    case 5: {
      const imo = b.uint(40, 30);
      const draught = b.uint(294, 8);
      const eta = { month: b.uint(274, 4), day: b.uint(278, 5), hour: b.uint(283, 5), minute: b.uint(288, 6) };
      message = {
        type,
        ...base,
        aisVersion: b.uint(38, 2),
        imo: imo === 0 ? undefined : imo,
        callsign: b.text(70, 42),
        shipname: b.text(112, 120),
        shiptype: b.uint(232, 8),
        dimensions: dimensionsOf(b, 240),
        epfd: b.uint(270, 4),
        eta: eta.month === 0 && eta.day === 0 ? undefined : eta,
        draught: draught === 0 ? undefined : draught / 10,
        destination: b.text(302, 120),
      };
      break;
    }
    case 18:
      message = { type, ...base, sog: sogOf(b, 46), accuracy: b.bool(56), lon: lonOf(b, 57), lat: latOf(b, 85), cog: cogOf(b, 112), heading: headingOf(b, 124), second: secondOf(b, 133) };
      break;
    case 19:
      message = {
        type,
        ...base,
        sog: sogOf(b, 46),
        accuracy: b.bool(56),
        lon: lonOf(b, 57),
        lat: latOf(b, 85),
        cog: cogOf(b, 112),
        heading: headingOf(b, 124),
        second: secondOf(b, 133),
        shipname: b.text(143, 120),
        shiptype: b.uint(263, 8),
        dimensions: dimensionsOf(b, 271),
        epfd: b.uint(301, 4),
      };
      break;
    case 21: {
      // The name continues past bit 272 in an extension of up to 14 characters (M.1371 table 83).
      const extension = b.length > 272 ? b.text(272, Math.min(88, b.length - 272)) : '';
      message = {
        type,
        ...base,
        aidType: b.uint(38, 5),
        // the extension is read only when the 20-character name is full (no `@` padding in it)
        name: b.text(43, 120).length === 20 ? (b.text(43, 120) + extension).trimEnd() : b.text(43, 120),
        accuracy: b.bool(163),
        lon: lonOf(b, 164),
        lat: latOf(b, 192),
        dimensions: dimensionsOf(b, 219),
        offPosition: b.bool(259),
        virtualAid: b.bool(269),
      };
      break;
    }
    case 24: {
      const part = b.uint(38, 2);
      if (part === 0) {
        message = { type, ...base, part: 'A', shipname: b.text(40, 120) };
      } else if (part === 1 && b.length >= 162) {
        const aux = isAuxiliaryMmsi(base.mmsi);
        message = {
          type,
          ...base,
          part: 'B',
          shiptype: b.uint(40, 8),
          vendorId: b.text(48, 18),
          callsign: b.text(90, 42),
          ...(aux ? { mothershipMmsi: b.uint(132, 30) } : { dimensions: dimensionsOf(b, 132) }),
        };
      } else {
        return { ok: false, reason: part > 1 ? 'unsupported_type' : 'too_short', type };
      }
      break;
    }
    default:
      return { ok: false, reason: 'unsupported_type', type };
  }
  // Absent values stay as `undefined` keys (JSON drops them): deleting keys would slow every message.
  return { ok: true, message };
}
