/**
 * Flood fairness bench (issue #16 point 4): `node --import tsx bench/flood-fairness.ts [seconds]`
 * (or BENCH_FLOOD_SECONDS; default 20 s of flood per run). The platform as a stranger runs it
 * (`node bin/huewatch.js start` as a child, SIM=0, temp DATA_DIR, free loopback ports), once with
 * the per-device quota at its defaults and once with it off (DEVICE_MAX_MSGS_PER_S=0,
 * DEVICE_MAX_BYTES_PER_S=0), each a fresh process. The load is test/flood-scenario.ts: 50
 * registered devices flood over raw sockets (20 QoS 0 single readings, 20 QoS 1 arrays of 100
 * readings, no PUBACK awaited, 10 their QoS 0 status) while 5 good devices publish a reading a second, Kim Long's
 * crossing alarm levels 1, 2, 3 into the flood. Prints, per run: the platform's peak RSS
 * (VmHWM), device publish → the resident's alert on `huewatch/v1/alerts/#` for each level,
 * `/health` (answered / asked, slowest), the good devices' readings stored / acknowledged, what
 * the flooders wrote and how much of it was dropped or slowed. Never pass/fail.
 * `BENCH_FLOOD_RUNS=quota,off` picks runs. Every loop is bounded; children are killed on exit.
 */
import { runFloodScenario, type FloodScenarioResult } from '../test/flood-scenario.ts';
import { startPlatformProcess } from './platform-child.ts';

const seconds = Number(process.argv[2] ?? process.env.BENCH_FLOOD_SECONDS ?? 20);
if (!Number.isFinite(seconds) || seconds < 5 || seconds > 600) throw new Error(`seconds: 5..600, not ${process.argv[2] ?? process.env.BENCH_FLOOD_SECONDS}`);
const runs = (process.env.BENCH_FLOOD_RUNS ?? 'quota,off').split(',').map((s) => s.trim());

const line = (name: string, value: string | number, unit = '') => console.log(`${name} ${value}${unit ? ` ${unit}` : ''}`);

async function startPlatform(env: Record<string, string>) {
  const p = await startPlatformProcess({ tmpPrefix: 'huewatch-bench-flood-', env: () => env, readyMs: 90_000, stopWaitMs: 30_000 });
  const died = () => (p.child.exitCode !== null || p.child.signalCode !== null ? `platform exited (${p.child.exitCode ?? p.child.signalCode}): ${p.output()}` : undefined);
  return { pid: p.child.pid!, httpUrl: p.httpUrl, mqttUrl: p.mqttUrl, adminToken: p.adminToken, stop: p.stop, died };
}

function report(name: string, r: FloodScenarioResult): void {
  const written = r.flood.reduce((n, f) => n + f.written, 0);
  const told = r.flood.filter((f) => f.errors.some((e) => e.code === 'HW_ERR_RATE_LIMITED')).length;
  line(`flood-fairness ${name}: platform RSS before the flood / peak`, `${r.rssBeforeMb ?? 'n/a'} / ${r.rssPeakMb ?? 'n/a'}`, 'MB');
  for (const level of [1, 2, 3]) {
    const a = r.alerts.find((x) => x.level === level);
    line(`flood-fairness ${name}: crossing → alert level ${level}`, a ? Math.round(a.latencyMs) : 'not received', a ? 'ms' : '');
  }
  line(`flood-fairness ${name}: alert levels in order received`, r.alerts.map((a) => a.level).join(',') || 'none');
  const sorted = [...r.health.latenciesMs].sort((a, b) => a - b);
  line(`flood-fairness ${name}: /health answered`, `${r.health.ok}/${r.health.asked}`);
  line(`flood-fairness ${name}: /health p50 / max`, `${sorted[Math.floor(sorted.length / 2)] ?? 0} / ${r.health.maxMs}`, 'ms');
  const acked = r.good.reduce((n, g) => n + g.acked, 0);
  const stored = r.good.reduce((n, g) => n + Math.min(g.stored, g.acked), 0);
  line(`flood-fairness ${name}: good devices' readings stored / acknowledged`, `${stored}/${acked}`);
  console.log(`# ${r.good.map((g) => `${g.deviceId} ${g.stored}/${g.acked}`).join(', ')}`);
  line(`flood-fairness ${name}: flooders' messages written`, written);
  line(`flood-fairness ${name}: over quota dropped (QoS 0) / slowed (QoS 1)`, `${r.quota.dropped} / ${r.quota.slowed}`);
  line(`flood-fairness ${name}: flooders told HW_ERR_RATE_LIMITED`, `${told}/${r.flood.length}`);
  for (const kind of ['telemetry QoS 0', 'telemetry QoS 1', 'status QoS 0'] as const) {
    const fs = r.flood.filter((f) => `${f.topic} QoS ${f.qos}` === kind);
    const w = fs.map((f) => f.written).sort((a, b) => a - b);
    console.log(`# ${kind} flooders: written min/median/max ${w[0]}/${w[Math.floor(w.length / 2)]}/${w.at(-1)}, told ${fs.filter((f) => f.errors.length > 0).length}/${fs.length}, PUBACKs ${fs.reduce((n, f) => n + f.acked, 0)}, closed early ${fs.filter((f) => f.closedEarly).length}`);
  }
  line(`flood-fairness ${name}: readings stored in all`, r.storedTotal);
}

console.log(`# ${seconds} s of flood per run: 50 devices (20 QoS 0 readings, 20 QoS 1 arrays of 100, 10 QoS 0 status) and 5 good devices; runs: ${runs.join(', ')}`);
for (const run of runs) {
  const env: Record<string, string> = run === 'off' ? { DEVICE_MAX_MSGS_PER_S: '0', DEVICE_MAX_BYTES_PER_S: '0' } : {};
  const p = await startPlatform(env);
  try {
    const r = await runFloodScenario({ ...p, floodMs: seconds * 1000, log: (l) => console.log(l) }).catch((err: unknown) => {
      throw new Error(`${run}: ${String(err)}\n${p.died() ?? ''}`);
    });
    report(run, r);
  } finally {
    await p.stop();
  }
}
