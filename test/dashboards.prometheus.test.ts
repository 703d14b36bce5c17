import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promqlRange, startPrometheus, type RunningServer } from '../store/test-servers.ts';
import { connectClient, waitFor } from './helpers.ts';
import { startHuewatch, stopAllHuewatch } from './huewatch-child.ts';

/**
 * Every Prometheus query of every provisioned dashboard (the platform-health panels and the
 * alert-events annotation), run against a real Prometheus 2.42 that scrapes a running
 * `huewatch start` (simulator on) every second, as Grafana sends it: a range query over the
 * dashboard's default 6 h, with Grafana's macros expanded for the provisioned datasource
 * (`timeInterval: 15s`, dashboards/provisioning/datasources/prometheus.yaml): `$__interval` → 15s,
 * `$__rate_interval` → max($__interval + 15s, 4 × 15s) = 1m, `$__range` → 6h, and template
 * variables as the dashboard defines them. Each query must draw something: a series with a finite
 * sample that is not 0 (a rate of a counter that moved, a quantile of a histogram with
 * observations); only a query's explicit `or vector(0)` fallback may be 0. The test makes the
 * traffic the simulator does not: a registered device's malformed message (a drop) and a login
 * with a wrong password (a refusal).
 */
const JSON_DIR = new URL('../dashboards/json/', import.meta.url).pathname;
const RANGE = { s: 6 * 3600, text: '6h' };
const STEP_S = 15;

interface Target { refId?: string; datasource?: { type?: string }; expr?: string; step?: string; name?: string }
interface Panel { title?: string; targets?: Target[]; panels?: Panel[] }
interface Variable { name: string; includeAll?: boolean; allValue?: string; current?: { value?: string | string[] } }
interface Dashboard { uid: string; panels: Panel[]; annotations?: { list?: Target[] }; templating?: { list?: Variable[] } }
interface PromQuery { where: string; expr: string; stepS: number }

/** Grafana's value for a template variable: its current value, or a regex for "All". */
const variableValue = (v: Variable): string => {
  const cur = v.current?.value;
  if (cur === '$__all' || (cur === undefined && v.includeAll)) return v.allValue ?? '.*';
  return Array.isArray(cur) ? `(${cur.join('|')})` : (cur ?? '.*');
};

function expand(expr: string, d: Dashboard): string {
  let out = expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', `${STEP_S}s`)
    .replaceAll('$__range_s', String(RANGE.s))
    .replaceAll('$__range', RANGE.text);
  for (const v of d.templating?.list ?? []) out = out.replaceAll(`\${${v.name}}`, variableValue(v)).replaceAll(`$${v.name}`, variableValue(v));
  return out;
}

function prometheusQueries(): PromQuery[] {
  const out: PromQuery[] = [];
  for (const folder of readdirSync(JSON_DIR)) {
    for (const file of readdirSync(join(JSON_DIR, folder))) {
      const d = JSON.parse(readFileSync(join(JSON_DIR, folder, file), 'utf8')) as Dashboard;
      const walk = (panels: Panel[]) => {
        for (const p of panels) {
          for (const t of p.targets ?? []) {
            if (t.datasource?.type === 'prometheus') out.push({ where: `${d.uid} / ${p.title} / ${t.refId}`, expr: expand(t.expr!, d), stepS: STEP_S });
          }
          walk(p.panels ?? []);
        }
      };
      walk(d.panels);
      for (const a of d.annotations?.list ?? []) {
        if (a.datasource?.type === 'prometheus') out.push({ where: `${d.uid} / annotation ${a.name}`, expr: expand(a.expr!, d), stepS: a.step ? Number.parseInt(a.step, 10) : STEP_S });
      }
    }
  }
  return out;
}

/** What a panel draws: any finite sample, and one that is not 0 unless the query falls back to 0 itself. */
const draws = (q: PromQuery, series: Array<{ values: Array<[number, string]> }>) => {
  const samples = series.flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite);
  return /\bor\s+vector\(0\)\s*$/.test(q.expr) ? samples.length > 0 : samples.some((v) => v !== 0);
};

interface Huewatch { httpUrl: string; mqttUrl: string; adminToken: string }

async function startPlatform(): Promise<Huewatch> {
  const hw = await startHuewatch({ env: { SIM: '1', SIM_INTERVAL_MS: '500', SIM_SPEED: '600' }, waitMs: 60_000 });
  return { httpUrl: hw.httpUrl, mqttUrl: hw.mqttUrl, adminToken: (await hw.secrets()).adminToken };
}

describe('every Prometheus query of the dashboards against Prometheus scraping the platform', () => {
  let huewatch: Huewatch | undefined;
  let prometheus: RunningServer | undefined;
  let device: MqttClient | undefined;
  const queries = prometheusQueries();

  beforeAll(async () => {
    huewatch = await startPlatform();
    // the API serves the metrics of every service in its process at /metrics on the HTTP port
    prometheus = await startPrometheus([new URL(huewatch.httpUrl).host]);
  }, 80_000);

  afterAll(async () => {
    await device?.endAsync(true);
    await prometheus?.stop();
    await stopAllHuewatch();
  }, 30_000);

  it('finds the Prometheus queries of the platform-health dashboard, macros expanded', () => {
    expect(queries.filter((q) => q.where.startsWith('huewatch-platform /')).length).toBeGreaterThanOrEqual(10);
    expect(queries.some((q) => q.where.includes('annotation'))).toBe(true);
    for (const q of queries) expect(q.expr, q.where).not.toContain('$');
  });

  it('draws every query once Prometheus has scraped the running platform', async () => {
    const p = prometheus!;
    const hw = huewatch!;
    await waitFor(async () => {
      const up = await promqlRange(p.url, 'up{job="huewatch"} == 1', 30, 1);
      return (up[0]?.values.length ?? 0) >= 3;
    }, 30_000, 'three successful scrapes of the platform');

    // traffic the simulator does not make: a registered device sends a malformed message, and the
    // broker refuses a login with its id and a wrong password (README "Point a real device at it")
    const res = await fetch(`${hw.httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hw.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'prom-kl-01', station: 'kim-long' }),
    });
    expect(res.status).toBe(201);
    const { secret } = (await res.json()) as { secret: string };
    device = await connectClient(hw.mqttUrl, { clientId: 'prom-kl-01', username: 'prom-kl-01', password: secret });
    const badInput = async () => {
      await device!.publishAsync('huewatch/v1/telemetry/prom-kl-01', 'not json', { qos: 1 });
      await connectClient(hw.mqttUrl, { clientId: 'prom-intruder', username: 'prom-kl-01', password: 'wrong' })
        .then((c) => c.endAsync(true), () => undefined);
    };

    // rounds of bad input and queries (a counter's first sample is no increase: it must move again)
    const silent = new Map(queries.map((q) => [q.where, q]));
    const deadline = Date.now() + 50_000;
    for (let round = 0; round < 40 && silent.size > 0 && Date.now() < deadline; round++) {
      await badInput();
      for (const q of [...silent.values()]) if (draws(q, await promqlRange(p.url, q.expr, RANGE.s, q.stepS))) silent.delete(q.where);
      if (silent.size > 0) await new Promise((r) => setTimeout(r, 1500));
    }
    expect([...silent.values()].map((q) => `${q.where}: ${q.expr}`)).toEqual([]);
  }, 85_000);
});
