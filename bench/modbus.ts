/**
 * Modbus poller bench (bounded, ~12 s): 200 simulated reservoir PLCs (the Tả Trạch map) on
 * loopback, each polled every 200 ms by one poller. Prints registers/s and polls/s, then the
 * poll-interval jitter of the healthy devices with and without 20 dead (silent) devices.
 * Run: node --import tsx bench/modbus.ts
 */
import { Registry } from 'prom-client';
import { createPlcSim } from '../firmware-sim/modbus/plc.ts';
import { startModbusTcpServer, type ModbusTcpServer } from '../firmware-sim/modbus/tcp-server.ts';
import { DEFAULT_MODBUS_FILE, loadModbusMap } from '../ingest/modbus/load.ts';
import { createModbusPoller } from '../ingest/modbus/poller.ts';
import type { ModbusDevice } from '../ingest/modbus/schema.ts';
import { silentLogger } from '../lib/log.ts';

const DEVICES = 200;
const INTERVAL_MS = 200;
const RUN_MS = 5_000;
const DEAD = 20;

const template = loadModbusMap(DEFAULT_MODBUS_FILE).devices[0]!;
const sim = createPlcSim(template, { scenario: 'flood' });
sim.update(3600);

async function phase(label: string, dead: number): Promise<void> {
  const servers: ModbusTcpServer[] = [];
  for (let i = 0; i < DEVICES; i++) servers.push(await startModbusTcpServer({ bank: sim.bank, unitId: 1 }));
  for (let i = 0; i < dead; i++) servers[i]!.faults.mode = 'silent';
  const devices: ModbusDevice[] = servers.map((s, i) => ({
    ...template,
    id: `plc-${i}`,
    transport: { kind: 'tcp', host: '127.0.0.1', port: s.port },
    pollIntervalMs: INTERVAL_MS,
    timeoutMs: 300,
    retries: 1,
  }));
  const polled = new Map<string, number[]>();
  const poller = createModbusPoller({
    config: { file: 'bench', devices },
    metrics: new Registry(),
    log: silentLogger(),
    accept: async (deviceId, _station, readings) => {
      const list = polled.get(deviceId) ?? [];
      list.push(Date.now());
      polled.set(deviceId, list);
      void readings;
    },
  });
  await poller.start();
  await new Promise((r) => setTimeout(r, 1_000)); // warm up: connections, JIT
  const t0 = Date.now();
  for (const l of polled.values()) l.length = 0;
  await new Promise((r) => setTimeout(r, RUN_MS));
  const health = poller.health();
  await poller.stop();
  for (const s of servers) await s.close();

  const seconds = (Date.now() - t0) / 1000;
  let polls = 0;
  const gaps: number[] = [];
  for (const [id, times] of polled) {
    if (Number(id.split('-')[1]) < dead) continue;
    const inWindow = times.filter((t) => t >= t0);
    polls += inWindow.length;
    for (let i = 1; i < inWindow.length; i++) gaps.push(inWindow[i]! - inWindow[i - 1]!);
  }
  gaps.sort((a, b) => a - b);
  const q = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))] ?? NaN;
  const registersPerPoll = 9 + 0; // holding 0..8 in one request (input uptime has no metric)
  const deadErrors = health.slice(0, dead).reduce((n, h) => n + (h.errors.TIMEOUT ?? 0), 0);
  console.log(
    `${label}: ${DEVICES - dead} healthy devices, ${(polls / seconds).toFixed(0)} polls/s, ${((polls * registersPerPoll) / seconds).toFixed(0)} registers/s; ` +
      `interval ${INTERVAL_MS} ms: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${gaps.at(-1)} ms` +
      (dead ? `; ${dead} dead devices, ${deadErrors} timeouts` : ''),
  );
}

await phase('all healthy', 0);
await phase(`${DEAD} dead`, DEAD);
