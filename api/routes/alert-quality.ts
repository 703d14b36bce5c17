import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AlertEvent } from '../../contract/alert.ts';
import { ErrorCode } from '../../contract/errors.ts';
import type { MetricName } from '../../contract/metrics.ts';
import { alertQuality, type QualityReading } from '../../rules/quality.ts';
import type { Rule } from '../../rules/schema.ts';
import { ApiError } from '../errors.ts';
import { instant } from '../query.ts';
import type { ApiDeps } from '../deps.ts';
import { zodRoutes } from '../openapi.ts';

const DAY = 86_400_000;
/** the longest period one request may cover: a season's raw readings of every station is too much */
const MAX_SPAN_MS = 31 * DAY;

const query = z.object({
  /** epoch ms or ISO 8601; default 7 days before `to` */
  from: instant.optional(),
  /** default now */
  to: instant.optional(),
  /** a raise this soon after the same key resolved is a flap (ms); default 1 h */
  flapWindowMs: z.string().regex(/^\d+$/).transform(Number).optional(),
});

export interface AlertQualityDeps extends Pick<ApiDeps, 'store' | 'state' | 'clock' | 'requireRole'> {
  /** the rules in force (platform/main.ts); the figures are per rule */
  rules(): readonly Rule[];
}

/** How far back before `from` a rule's value needs readings: its longest rolling window. */
function lookbackMs(rule: Rule): number {
  switch (rule.kind) {
    case 'rate':
    case 'accumulation':
      return rule.window;
    case 'rainfall':
      return Math.max(...rule.windows.map((w) => w.window));
    default:
      return 0;
  }
}

/**
 * `GET /api/v1/alerts/quality`: rules/quality.ts over the stored readings and the alert history
 * of a period: per rule crossings alerted, late and missed, false alerts, flaps and lead time.
 * Viewer role: the figures cover operators' alerts too (audience `operators`), which the public
 * alert feeds do not show.
 */
export async function alertQualityRoutes(app: FastifyInstance, deps: AlertQualityDeps) {
  zodRoutes(app); // the routes below validate and document with their zod schemas (api/openapi.ts)
  const schema = { summary: 'Alert quality per rule over a period: crossings alerted, late and missed, false alerts, flaps, lead time', tags: ['alerts'], querystring: query };
  app.get('/api/v1/alerts/quality', { preHandler: deps.requireRole('viewer'), schema }, async (req) => {
    const q = req.query as z.output<typeof query>; // parsed by the schema (api/openapi.ts)
    const to = q.to ?? deps.clock.now();
    const from = q.from ?? to - 7 * DAY;
    if (from >= to) throw new ApiError(400, ErrorCode.BAD_REQUEST, '"from" must be before "to"');
    if (to - from > MAX_SPAN_MS) throw new ApiError(400, ErrorCode.BAD_REQUEST, `at most ${MAX_SPAN_MS / DAY} days per request`);

    const rules = deps.rules();
    // readings from a window's length (and a day for a crossing already under way) before `from`
    const wanted = new Map<string, { station: string; metric: MetricName; from: number }>();
    for (const r of rules) {
      if (!('metric' in r) || typeof r.metric !== 'string') continue;
      const k = `${r.station}/${r.metric}`;
      const start = from - Math.max(DAY, lookbackMs(r));
      const prev = wanted.get(k);
      if (!prev || start < prev.from) wanted.set(k, { station: r.station, metric: r.metric as MetricName, from: start });
    }
    const readings = new Map<string, QualityReading[]>();
    for (const [k, w] of wanted) readings.set(k, await deps.store.series({ station: w.station, metric: w.metric, from: w.from, to }));

    // every event of the alerts that stood at some point after the context began
    const contextFrom = from - DAY;
    const alerts = (await deps.state.listAlerts()).filter((a) => Date.parse(a.firstSent) < to && (a.status === 'active' || a.status === 'acknowledged' || Date.parse(a.sent) >= contextFrom));
    const events: AlertEvent[] = [];
    for (const a of alerts) for (const h of await deps.state.alertHistory(a.id)) events.push(h.event);

    const report = alertQuality(rules, (station, metric) => readings.get(`${station}/${metric}`) ?? [], events, { from, ...(q.flapWindowMs ? { flapWindowMs: q.flapWindowMs } : {}) });
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...report };
  });
}
