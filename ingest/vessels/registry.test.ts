import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../contract/errors.ts';
import { decodeVms } from '../../contract/vms.ts';
import { loadVesselRegistry, parseVesselRegistry, VesselRegistryError } from './registry.ts';

const PORTS = ['thuan-an', 'tu-hien'];

describe('vessel register (config/vessels.yaml)', () => {
  it('loads the Huế register and finds vessels by id and MMSI', () => {
    const r = loadVesselRegistry(fileURLToPath(new URL('../../config/vessels.yaml', import.meta.url)), PORTS);
    expect(r.vessels.length).toBeGreaterThanOrEqual(8);
    expect(r.byMmsi(574001230)?.id).toBe('TTH-90123-TS');
    expect(r.idForMmsi(574001230)).toBe('TTH-90123-TS');
    expect(r.idForMmsi(412000001)).toBe('mmsi-412000001');
  });

  it('lists every problem by path: bad registration, unknown port, a licence the length may not hold, duplicates', () => {
    const text = `version: 1
vessels:
  - { id: TTH-1-X, mmsi: 574000001, name: a, lengthM: 10, homePort: thuan-an, licensedZone: zone-coastal }
  - { id: TTH-90001-TS, mmsi: 574000002, name: b, lengthM: 10, homePort: da-nang, licensedZone: zone-coastal }
  - { id: TTH-90002-TS, mmsi: 574000002, name: c, lengthM: 16, homePort: tu-hien, licensedZone: zone-coastal }
`;
    try {
      parseVesselRegistry(text, PORTS, 'v.yaml');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VesselRegistryError);
      expect((err as VesselRegistryError).code).toBe(ErrorCode.CONFIG_INVALID);
      const msg = (err as Error).message;
      expect(msg).toContain('v.yaml vessels.0.id');
    }
    const semantic = text.replace('TTH-1-X', 'TTH-90000-TS');
    expect(() => parseVesselRegistry(semantic, PORTS, 'v.yaml')).toThrow(/vessels\.1\.homePort: unknown port "da-nang"[\s\S]*vessels\.2: 574000002 already used[\s\S]*vessels\.2\.licensedZone/);
  });
});

describe('VMS payload (contract/vms.ts)', () => {
  it('accepts the contract shape with epoch ms or ISO time', () => {
    expect(decodeVms('{"ts":1758326400000,"lat":16.9,"lon":108.1,"sog":2.5,"cog":120}')).toMatchObject({ ok: true, report: { ts: 1758326400000 } });
    expect(decodeVms('{"ts":"2025-09-20T00:00:00+07:00","lat":16.9,"lon":108.1,"sog":0,"cog":0}')).toMatchObject({ ok: true, report: { ts: Date.parse('2025-09-19T17:00:00Z') } });
  });

  it('refuses bad JSON, out-of-range values and unknown keys with stable codes', () => {
    expect(decodeVms('{')).toMatchObject({ ok: false, code: ErrorCode.PAYLOAD_JSON });
    expect(decodeVms('{"ts":1,"lat":91,"lon":108,"sog":1,"cog":1}')).toMatchObject({ ok: false, code: ErrorCode.PAYLOAD_INVALID, problem: expect.stringMatching(/^lat/) });
    expect(decodeVms('{"ts":1,"lat":16,"lon":108,"sog":1,"cog":360}')).toMatchObject({ ok: false, code: ErrorCode.PAYLOAD_INVALID });
    expect(decodeVms('{"ts":1,"lat":16,"lon":108,"sog":1,"cog":1,"x":1}')).toMatchObject({ ok: false, code: ErrorCode.PAYLOAD_INVALID });
  });
});
