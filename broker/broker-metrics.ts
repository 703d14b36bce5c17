import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Client } from 'aedes';
import { ThrottledLog } from '../lib/throttled-log.ts';
import type { Principal } from './acl.ts';

export type RefusalReason =
  | 'bad_credentials'
  /** failed logins of this address or username: backing off or locked out (lib/login-guard.ts), refused before scrypt */
  | 'login_locked'
  /** too many password checks waiting (of this address, or in all): refused before scrypt (verify-queue.ts) */
  | 'login_busy'
  | 'anonymous_refused'
  | 'device_disabled'
  | 'client_id_refused'
  | 'will_denied'
  | 'server_full'
  | 'publish_denied'
  | 'subscribe_denied'
  | 'payload_too_large';

export interface BrokerCounters {
  readonly clients: number;
  readonly published: number;
  refused(reason?: RefusalReason): number;
}

export interface BrokerMetrics {
  /** counts a refusal (metric and `counters`) and logs it, at most once per client per interval */
  refuse(client: Client | null, reason: RefusalReason, fields: Record<string, unknown>): void;
  /** counts a PUBLISH the broker accepted */
  published(role: Principal['role']): void;
  readonly counters: BrokerCounters;
}

/** The broker's Prometheus metrics and the in-process counters tests and benches read. */
export function createBrokerMetrics(opts: { metrics: Registry; log: Logger; refusalLogIntervalMs: number; connectedClients(): number }): BrokerMetrics {
  const refusalLog = new ThrottledLog(opts.log, opts.refusalLogIntervalMs);
  const refusedCounts = new Map<RefusalReason, number>();
  let published = 0;
  const refusedTotal = new Counter({
    name: 'huewatch_broker_refused_total',
    help: 'Connections, publishes and subscriptions the broker refused, by reason',
    labelNames: ['reason'],
    registers: [opts.metrics],
  });
  const publishes = new Counter({
    name: 'huewatch_broker_publishes_total',
    help: 'PUBLISH packets from clients the broker accepted, by role',
    labelNames: ['role'],
    registers: [opts.metrics],
  });
  new Gauge({
    name: 'huewatch_broker_clients',
    help: 'Connected MQTT clients',
    registers: [opts.metrics],
    collect() {
      this.set(opts.connectedClients());
    },
  });

  return {
    refuse(client, reason, fields) {
      refusedTotal.inc({ reason });
      refusedCounts.set(reason, (refusedCounts.get(reason) ?? 0) + 1);
      const clientId = client?.id ?? 'unknown';
      refusalLog.warn(clientId, { clientId, reason, ...fields }, 'broker refused');
    },
    published(role) {
      published++;
      publishes.inc({ role });
    },
    counters: {
      get clients() {
        return opts.connectedClients();
      },
      get published() {
        return published;
      },
      refused(reason?: RefusalReason) {
        if (reason) return refusedCounts.get(reason) ?? 0;
        let n = 0;
        for (const v of refusedCounts.values()) n += v;
        return n;
      },
    },
  };
}
