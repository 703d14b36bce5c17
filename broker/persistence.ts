import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AedesOptions } from 'aedes';

/**
 * Where the broker keeps what must outlive its process: retained messages, persistent sessions
 * (subscriptions), QoS 1 queues and wills (aedes' persistence interface, async since aedes 1.0:
 * `await persistence.setup(broker)` in `aedes.listen()`).
 * - single node: on disk, `DATA_DIR/broker` (aedes-persistence-level over classic-level/LevelDB);
 * - `REDIS_URL` set: in Redis (aedes-persistence-redis), with mqemitter-redis carrying every
 *   message between the brokers that share it, so a client may log in at any of them.
 * The modules' default exports are aedes 0.x callback wrappers; aedes 1.x takes the async classes.
 */
const require = createRequire(import.meta.url);

export type BrokerStateOptions = { redisUrl: string } | { dataDir: string } | { memory: true };

export interface BrokerState {
  /** `persistence` (and `mq` with Redis) for the Aedes constructor */
  readonly aedesOptions: Pick<AedesOptions, 'persistence' | 'mq'>;
  readonly kind: 'redis' | 'level' | 'memory';
  /** closes the store (after aedes has closed) */
  close(): Promise<void>;
}

export function createBrokerState(opts: BrokerStateOptions): BrokerState {
  if ('memory' in opts) return { aedesOptions: {}, kind: 'memory', close: async () => {} };
  if ('redisUrl' in opts) {
    const { Redis } = require('ioredis') as typeof import('ioredis');
    const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js');
    const MQEmitterRedis = require('mqemitter-redis');
    const conn = new Redis(opts.redisUrl, { lazyConnect: false });
    const persistence = streamsForAedes(new AsyncRedisPersistence({ conn }));
    // matchEmptyLevels as aedes' own mqemitter: `a/+` matches `a/` [MQTT-4.7.1-3]
    const mq = MQEmitterRedis({ connectionString: opts.redisUrl, matchEmptyLevels: true });
    return {
      aedesOptions: { persistence, mq },
      kind: 'redis',
      async close() {
        // aedes.close() closed mq; the persistence's connection is ours
        await persistence.destroy?.().catch(() => undefined);
        conn.disconnect();
      },
    };
  }
  const { ClassicLevel } = require('classic-level') as typeof import('classic-level');
  const AsyncLevelPersistence = require('aedes-persistence-level/asyncPersistence.js');
  const db = new ClassicLevel(join(opts.dataDir, 'broker'));
  const persistence = new AsyncLevelPersistence(db);
  return {
    aedesOptions: { persistence },
    kind: 'level',
    close: async () => { await db.close(); },
  };
}

/**
 * aedes-persistence-redis 11 returns async generators where aedes 1.2 pipes a stream (retained
 * messages on SUBSCRIBE: `stream.pipe is not a function`): those are wrapped in Readable.from.
 */
function streamsForAedes<T extends object>(persistence: T): T {
  const p = persistence as Record<string, unknown>;
  for (const name of ['createRetainedStreamCombi', 'createRetainedStream', 'outgoingStream', 'streamWill', 'getClientList']) {
    const original = p[name];
    if (typeof original !== 'function') continue;
    p[name] = (...args: unknown[]) => {
      const out = (original as (...a: unknown[]) => unknown).apply(persistence, args) as { pipe?: unknown } & AsyncIterable<unknown>;
      return typeof out?.pipe === 'function' ? out : Readable.from(out);
    };
  }
  return persistence;
}
