import type { AlertEvent } from '../contract/alert.ts';
import { ErrorCode } from '../contract/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Station } from '../contract/station.ts';
import type { StateStore } from '../store/types.ts';
import { isOpen, isoSeconds, restyle } from './alerts.ts';
import type { RuleRecord } from './record.ts';
import { initialLevelState } from './level.ts';
import { releaseEvent, releaseProblem, type ReleaseOrder } from './release.ts';
import { alertKey, type ReleaseRule, type Rule } from './schema.ts';

/**
 * What operators do to alerts, for the API to call after its role check (DESIGN.md "Who may do
 * what": operators acknowledge and send manual alerts). Each action is persisted with its cause
 * (who, when, why) in the alert history, published on MQTT, and audited (a log line with
 * `audit: true` and a record in the `audit` namespace of the state store).
 */

export const AUDIT_NAMESPACE = 'audit';

export class OperatorActionError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'OperatorActionError';
  }
}

export interface OperatorActions {
  /** active → acknowledged; who and when are kept in `operator` and in the history. */
  acknowledge(id: string, user: string): Promise<AlertEvent>;
  /** Ends an open alert as `cancelled` (a CAP Cancel) with the reason; the rule does not re-raise it at the same level. */
  cancel(id: string, user: string, reason: string): Promise<AlertEvent>;
  /** A release order becomes a warning to the communes downstream (a revised order: an Update). */
  declareRelease(order: ReleaseOrder): Promise<AlertEvent>;
}

export interface OperatorDeps {
  serial<T>(work: () => Promise<T>): Promise<T>;
  commit(event: AlertEvent, cause: unknown): Promise<void>;
  putRecord(rec: RuleRecord): Promise<void>;
  store: StateStore;
  log: Logger;
  clock: { now(): number };
  stations: ReadonlyMap<string, Station>;
  rules(): readonly Rule[];
  records(): Iterable<RuleRecord>;
}

export function createOperatorActions(d: OperatorDeps): OperatorActions {
  const log = d.log.child({ module: 'rules-operator' });

  async function audit(action: string, id: string, user: string, extra: Record<string, unknown> = {}): Promise<void> {
    const at = d.clock.now();
    log.info({ audit: true, action, alertId: id, user, ...extra }, `alert ${action}`);
    await d.store.putJson(AUDIT_NAMESPACE, `${String(at).padStart(15, '0')}:${id}:${action}`, { action, alertId: id, user, at: isoSeconds(at), ...extra });
  }

  async function openAlert(id: string): Promise<AlertEvent> {
    const alert = await d.store.getAlert(id);
    if (!alert) throw new OperatorActionError(ErrorCode.NOT_FOUND, `no alert ${id}`);
    if (!isOpen(alert)) throw new OperatorActionError(ErrorCode.BAD_REQUEST, `alert ${id} is ${alert.status}`);
    return alert;
  }

  /** Keeps the owning rule's record in step with what the operator did. */
  async function updateRecord(event: AlertEvent, ended: boolean): Promise<void> {
    for (const rec of d.records()) {
      if (rec.alert?.id !== event.id) continue;
      await d.putRecord({ ...rec, alert: ended ? null : event, cause: ended ? undefined : rec.cause });
    }
  }

  return {
    acknowledge: (id, user) => d.serial(async () => {
      if (!user) throw new OperatorActionError(ErrorCode.BAD_REQUEST, 'user is required');
      const open = await openAlert(id);
      if (open.status === 'acknowledged') return open; // idempotent: the first acknowledgement stands
      const now = d.clock.now();
      const event = restyle(open, { status: 'acknowledged', operator: { user, at: isoSeconds(now) } }, now);
      await updateRecord(event, false);
      await d.commit(event, { operator: { action: 'acknowledge', user } });
      await audit('acknowledge', id, user);
      return event;
    }),

    cancel: (id, user, reason) => d.serial(async () => {
      if (!user || !reason) throw new OperatorActionError(ErrorCode.BAD_REQUEST, 'user and reason are required');
      const open = await openAlert(id);
      const now = d.clock.now();
      const event = restyle(open, { msgType: 'Cancel', status: 'cancelled', urgency: 'Past', operator: { user, at: isoSeconds(now), reason } }, now);
      await updateRecord(event, true);
      await d.commit(event, { operator: { action: 'cancel', user, reason } });
      await audit('cancel', id, user, { reason });
      return event;
    }),

    declareRelease: (order) => d.serial(async () => {
      const problem = releaseProblem(order);
      if (problem) throw new OperatorActionError(ErrorCode.BAD_REQUEST, problem);
      const rule = d.rules().find((r): r is ReleaseRule => r.kind === 'release' && r.station === order.reservoir);
      const reservoir = d.stations.get(order.reservoir);
      if (!rule || !reservoir) throw new OperatorActionError(ErrorCode.NOT_FOUND, `no release rule for reservoir ${order.reservoir}`);
      const rec: RuleRecord = [...d.records()].find((r) => r.ruleId === rule.id) ?? { ruleId: rule.id, key: alertKey(rule), level: initialLevelState(), alert: null };
      const prev = rec.alert ? await d.store.getAlert(rec.alert.id) : undefined;
      const event = releaseEvent(rule, reservoir, order, prev, d.clock.now());
      const cause = { operator: { action: 'release-order', ...order } };
      await d.putRecord({ ...rec, level: { ...rec.level, level: 1 }, alert: event, cause });
      await d.commit(event, cause);
      await audit('release-order', event.id, order.user, { reservoir: order.reservoir, flowMin: order.flowMin, flowMax: order.flowMax, start: new Date(order.start).toISOString() });
      return event;
    }),
  };
}

/** For the API: `acknowledgeAlert(engine, id, user)` after its role check (operator or admin). */
export function acknowledgeAlert(engine: { operator: OperatorActions }, id: string, user: string): Promise<AlertEvent> {
  return engine.operator.acknowledge(id, user);
}

export function cancelAlert(engine: { operator: OperatorActions }, id: string, user: string, reason: string): Promise<AlertEvent> {
  return engine.operator.cancel(id, user, reason);
}

export function declareReleaseOrder(engine: { operator: OperatorActions }, order: ReleaseOrder): Promise<AlertEvent> {
  return engine.operator.declareRelease(order);
}
