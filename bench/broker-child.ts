/**
 * One HueWatch broker (broker/server.ts: admission, ACL, limits) in a process of its own, for
 * bench/brokers.ts. Devices `bench-0..N-1` (secret `bench-secret`), service accounts
 * `svc-{name}` with `bench-svc-{name}`. State: memory, on disk (`BENCH_STATE=level`, a temp
 * DATA_DIR) or Redis (`BENCH_REDIS_URL`). Tells its parent `{ type: 'ready', port }`, answers
 * `{ cmd: 'cpu' }` with `{ type: 'cpu', micros }` and exits on `{ cmd: 'close' }` or when the
 * parent goes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { SERVICE_NAMES } from '../broker/acl.ts';
import { createBrokerState } from '../broker/persistence.ts';
import { hashSecret } from '../broker/secrets.ts';
import { createBrokerServer } from '../broker/server.ts';
import { silentLogger } from '../lib/log.ts';
import type { DeviceRecord } from '../store/types.ts';

const devices = Number(process.env.BENCH_DEVICES ?? 50);
const redisUrl = process.env.BENCH_REDIS_URL;
const dir = process.env.BENCH_STATE === 'level' ? await mkdtemp(join(tmpdir(), 'huewatch-bench-broker-')) : undefined;
// one hash for every device (scrypt is slow on purpose); each device still logs in with its own id
const secretHash = await hashSecret('bench-secret');
const registry = new Map<string, DeviceRecord>();
for (let i = 0; i < devices; i++) registry.set(`bench-${i}`, { deviceId: `bench-${i}`, station: 'kim-long', secretHash, createdAt: 0, disabled: false });
const broker = createBrokerServer({
  log: silentLogger(),
  metrics: new Registry(),
  devices: { getDevice: async (id) => registry.get(id) },
  services: await Promise.all(SERVICE_NAMES.map(async (name) => ({ name, secretHash: await hashSecret(`bench-svc-${name}`) }))),
  allowAnonymousResidents: false,
  host: '127.0.0.1',
  port: 0,
  state: createBrokerState(redisUrl ? { redisUrl } : dir ? { dataDir: dir } : { memory: true }),
  heartbeatIntervalMs: 1000,
  // what one broker can carry, not what 50 devices may send each (20 msg/s, 2 KiB/s by default)
  deviceQuota: { msgsPerS: 0, msgsBurst: 200, bytesPerS: 0, bytesBurst: 64 * 1024 },
});
const { mqttPort } = await broker.start();
process.send!({ type: 'ready', port: mqttPort });
const start = process.cpuUsage();
process.on('message', async (m: { cmd: string }) => {
  if (m.cmd === 'cpu') {
    const u = process.cpuUsage(start);
    process.send!({ type: 'cpu', micros: u.user + u.system });
  } else if (m.cmd === 'close') {
    await broker.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
