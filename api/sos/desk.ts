import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AlertEvent } from '../../contract/alert.ts';
import type { Station } from '../../contract/station.ts';
import { sosRecord, sosRequest, type SosRecord, type SosRequest, type SosStep } from '../../contract/sos.ts';
import type { Logger } from '../../lib/log.ts';
import type { StateStore } from '../../store/types.ts';
import { unitsFor, type RescueUnit } from './units.ts';

/**
 * The operations centre's SOS desk (issue #15.3): residents' calls for help, linked to the alerts
 * in force at their place, taken by an operator, assigned to a district's rescue unit and closed
 * with a note; every step recorded with the person and time. Kept in the state store (namespace
 * `sos`), one JSON record per call. Personal data (phone, position, the resident's words) is
 * deleted `retentionMs` after the call is closed; what stays is what the province reports on
 * (when, which district, which alerts, who handled it and how long it took).
 */

export const SOS_NAMESPACE = 'sos';
const PURGE_EVERY_MS = 3_600_000;

export class SosError extends Error {
  constructor(readonly status: 404 | 409 | 400, message: string) {
    super(message);
  }
}

export interface SosDeskOptions {
  state: Pick<StateStore, 'putJson' | 'listJson' | 'listAlerts'>;
  stations: readonly Station[];
  units: readonly RescueUnit[];
  /** how long personal data is kept after a call is closed */
  retentionMs: number;
  clock: { now(): number };
  log: Logger;
}

/** What the resident who sent the call sees: the status and steps, no operator's name, no one else's data. */
export interface SosTracking {
  id: string;
  status: SosRecord['status'];
  receivedAt: string;
  steps: Array<Pick<SosStep, 'at' | 'action' | 'unit'>>;
  alerts: SosRecord['alerts'];
}

export interface SosDesk {
  start(): Promise<void>;
  stop(): void;
  /** a new call: stored, linked to the alerts in force at its place; returns the resident's tracking token */
  submit(input: SosRequest): Promise<{ record: SosRecord; token: string }>;
  list(): SosRecord[];
  get(id: string): SosRecord | undefined;
  track(id: string, token: string): SosTracking | undefined;
  units(district: string | null): RescueUnit[];
  take(id: string, by: string): Promise<SosRecord>;
  assign(id: string, unitId: string, by: string): Promise<SosRecord>;
  close(id: string, note: string, by: string): Promise<SosRecord>;
  /** deletes the personal data of calls closed more than the retention period ago */
  purge(): Promise<number>;
  /** every new or changed call, as operators see it */
  subscribe(fn: (rec: SosRecord) => void): () => void;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** great-circle distance, km */
function km(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

export function createSosDesk(opts: SosDeskOptions): SosDesk {
  const { state, clock, log } = opts;
  const calls = new Map<string, SosRecord>();
  const listeners = new Set<(rec: SosRecord) => void>();
  let purgeTimer: NodeJS.Timeout | undefined;
  const iso = () => new Date(clock.now()).toISOString();

  /** the district of a point: that of the nearest station (the catalogue names each station's district) */
  function districtOf(p: { lat: number; lon: number }): string | null {
    let best: { d: number; district: string | null } = { d: Infinity, district: null };
    for (const s of opts.stations) {
      const d = km(p, s);
      if (d < best.d) best = { d, district: (s as Station & { district?: string }).district ?? null };
    }
    return best.district;
  }

  async function save(rec: SosRecord): Promise<SosRecord> {
    const valid = sosRecord.parse(rec);
    await state.putJson(SOS_NAMESPACE, valid.id, valid);
    calls.set(valid.id, valid);
    for (const fn of listeners) {
      try {
        fn(valid);
      } catch (err) {
        log.error({ err }, 'SOS listener failed');
      }
    }
    return valid;
  }

  function mustGet(id: string): SosRecord {
    const rec = calls.get(id);
    if (!rec) throw new SosError(404, `no SOS call "${id}"`);
    return rec;
  }

  function step(rec: SosRecord, s: SosStep, status: SosRecord['status']): Promise<SosRecord> {
    return save({ ...rec, status, steps: [...rec.steps, s] });
  }

  return {
    async start() {
      for (const { value } of await state.listJson<unknown>(SOS_NAMESPACE)) {
        const rec = sosRecord.safeParse(value);
        if (rec.success) calls.set(rec.data.id, rec.data);
        else log.warn({ problem: rec.error.message }, 'stored SOS call unreadable: left out');
      }
      purgeTimer = setInterval(() => void this.purge().catch((err) => log.error({ err }, 'SOS purge failed')), PURGE_EVERY_MS);
      purgeTimer.unref();
      await this.purge();
    },
    stop() {
      clearInterval(purgeTimer);
    },

    async submit(input) {
      const req = sosRequest.parse(input);
      const at = { lat: req.lat, lon: req.lon };
      const inForce = (await state.listAlerts({ status: ['active', 'acknowledged'] })).filter((a: AlertEvent) => a.area.circle && km(at, a.area.circle) <= a.area.circle.radiusKm);
      const token = randomBytes(24).toString('base64url');
      const record = await save({
        id: randomUUID(),
        receivedAt: iso(),
        status: 'new',
        district: districtOf(at),
        alerts: inForce.map((a) => ({ id: a.id, key: a.key, headline: a.headline, level: a.level })),
        steps: [{ at: iso(), action: 'received' }],
        personal: { lat: req.lat, lon: req.lon, located: req.located, ...(req.accuracyM !== undefined ? { accuracyM: req.accuracyM } : {}), text: req.text, phone: req.phone },
        trackSha256: sha256(token),
      });
      log.info({ sos: record.id, district: record.district, alerts: record.alerts.length }, 'SOS received');
      return { record, token };
    },

    list: () => [...calls.values()].sort((a, b) => b.receivedAt.localeCompare(a.receivedAt)),
    get: (id) => calls.get(id),
    track(id, token) {
      const rec = calls.get(id);
      if (!rec || !timingSafeEqual(Buffer.from(rec.trackSha256, 'hex'), Buffer.from(sha256(token), 'hex'))) return undefined;
      return { id: rec.id, status: rec.status, receivedAt: rec.receivedAt, alerts: rec.alerts, steps: rec.steps.map((s) => ({ at: s.at, action: s.action, ...(s.unit ? { unit: s.unit } : {}) })) };
    },
    units: (district) => unitsFor(opts.units, district),

    async take(id, by) {
      const rec = mustGet(id);
      if (rec.status !== 'new') throw new SosError(409, `SOS ${id} is ${rec.status}, not new`);
      return step(rec, { at: iso(), action: 'taken', by }, 'taken');
    },
    async assign(id, unitId, by) {
      const rec = mustGet(id);
      if (rec.status === 'closed') throw new SosError(409, `SOS ${id} is closed`);
      const unit = opts.units.find((u) => u.id === unitId);
      if (!unit) throw new SosError(400, `unknown rescue unit "${unitId}" (known: ${opts.units.map((u) => u.id).join(', ')})`);
      return step(rec, { at: iso(), action: 'assigned', by, unit: { id: unit.id, name: unit.name } }, 'assigned');
    },
    async close(id, note, by) {
      const rec = mustGet(id);
      if (rec.status === 'closed') throw new SosError(409, `SOS ${id} is already closed`);
      return step(rec, { at: iso(), action: 'closed', by, note }, 'closed');
    },

    async purge() {
      const cutoff = clock.now() - opts.retentionMs;
      let n = 0;
      for (const rec of calls.values()) {
        const closed = rec.steps.find((s) => s.action === 'closed');
        if (!rec.personal || !closed || Date.parse(closed.at) > cutoff) continue;
        const { personal: _gone, ...kept } = rec;
        // the closing note may repeat the resident's words: it goes with the personal data
        await save({ ...kept, steps: rec.steps.map(({ note: _n, ...s }) => s), purgedAt: iso() });
        n++;
      }
      if (n > 0) log.info({ purged: n }, 'SOS personal data deleted after the retention period');
      return n;
    },

    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
