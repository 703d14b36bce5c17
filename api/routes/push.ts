import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { severity } from '../../contract/alert.ts';
import { ErrorCode } from '../../contract/errors.ts';
import { HAZARD_NAMES, hazard, SEVERITY_ORDER } from '../../contract/hazard.ts';
import {
  pushLanguage, pushPreferencesSchema, subscribeBodySchema, subscriptionProofSchema, type StoredSubscription,
} from '../../delivery/webpush.ts';
import type { PushAccess } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { zodRoutes } from '../openapi.ts';

export interface PushRouteDeps {
  push: PushAccess;
}

const unsubscribeBody = z.object({
  endpoint: z.url(),
  /** when given, they must be the subscription's: a browser sends what it holds */
  keys: subscriptionProofSchema.shape.keys.optional(),
});
const updateBody = pushPreferencesSchema.extend({ subscription: subscriptionProofSchema });

const SEVERITY_NAMES: Record<z.infer<typeof severity>, { vi: string; en: string }> = {
  Unknown: { vi: 'Mọi mức', en: 'Any' },
  Minor: { vi: 'Nhẹ', en: 'Minor' },
  Moderate: { vi: 'Trung bình', en: 'Moderate' },
  Severe: { vi: 'Nghiêm trọng', en: 'Severe' },
  Extreme: { vi: 'Cực kỳ nghiêm trọng', en: 'Extreme' },
};

const choicesOf = (s: StoredSubscription) => ({
  areas: s.areas,
  hazards: s.hazards ?? [...hazard.options],
  minSeverity: s.minSeverity ?? 'Unknown',
  lang: s.lang ?? 'vi',
});

/**
 * Residents' browsers register for Web Push here (no token: like the MQTT-over-WebSocket feed,
 * alerts are public; a subscription only lets us send to that browser), with their choices:
 * areas, hazards, a minimum severity and a language (delivery/webpush.ts). Reading and changing
 * the choices needs the subscription's endpoint and keys, which only that browser holds: they
 * travel in a body, never in a URL (URLs end up in logs).
 */
export async function pushRoutes(fastify: FastifyInstance, deps: PushRouteDeps) {
  const app = zodRoutes(fastify);
  const checkAreas = (areas: readonly string[]) => {
    const unknown = deps.push.unknownAreas(areas);
    if (unknown.length === 0) return;
    const known = deps.push.areas.map((a) => `${a.code} (${a.name})`).join(', ');
    throw new ApiError(400, ErrorCode.BAD_REQUEST, `areas: unknown area ${unknown.map((a) => `"${a}"`).join(', ')}; choose from ${known} (GET /api/v1/push/choices)`);
  };

  app.get('/api/v1/push/vapid-public-key', { schema: { summary: 'The VAPID public key browsers subscribe with', tags: ['residents'] } }, async () => ({ publicKey: deps.push.publicKey }));

  app.get('/api/v1/push/choices', { schema: { summary: 'What a resident can choose: areas (districts, each once), hazards, severities, languages', tags: ['residents'] } }, async () => ({
    areas: deps.push.areas.map((a) => ({ code: a.code, name: a.name, codes: a.codes })),
    hazards: hazard.options.map((code) => ({ code, name: HAZARD_NAMES[code] })),
    severities: SEVERITY_ORDER.map((code) => ({ code, name: SEVERITY_NAMES[code] })),
    languages: pushLanguage.options,
  }));

  app.post('/api/v1/push/subscriptions', { schema: { summary: 'Register a browser for Web Push alerts of chosen areas, hazards, minimum severity and language', tags: ['residents'], body: subscribeBodySchema } }, async (req, reply) => {
    const { subscription, areas, ...prefs } = req.body;
    checkAreas(areas);
    const id = await deps.push.subscribe(subscription, areas, prefs);
    return reply.code(201).send({ id, areas: [...new Set(areas)], ...prefs });
  });

  app.post('/api/v1/push/subscriptions/find', { schema: { summary: "A subscription's choices, for the browser holding its endpoint and keys", tags: ['residents'], body: subscriptionProofSchema } }, async (req) => {
    const found = deps.push.find(req.body);
    if (!found) throw new ApiError(404, ErrorCode.NOT_FOUND, 'no such subscription');
    return choicesOf(found);
  });

  app.put('/api/v1/push/subscriptions', { schema: { summary: "Change a subscription's choices (the subscription's endpoint and keys prove it is the browser's)", tags: ['residents'], body: updateBody } }, async (req) => {
    const { subscription, ...prefs } = req.body;
    checkAreas(prefs.areas);
    const updated = await deps.push.update(subscription, prefs);
    // keys that do not match answer like a subscription that does not exist: no oracle for endpoints
    if (updated === 'not-found') throw new ApiError(404, ErrorCode.NOT_FOUND, 'no such subscription (endpoint and keys must be the ones registered)');
    return choicesOf(updated);
  });

  app.delete('/api/v1/push/subscriptions', { schema: { summary: 'Remove a Web Push subscription and its choices', tags: ['residents'], body: unsubscribeBody } }, async (req, reply) => {
    const { endpoint, keys } = req.body;
    if (keys && !deps.push.find({ endpoint, keys })) throw new ApiError(404, ErrorCode.NOT_FOUND, 'no such subscription');
    if (!(await deps.push.unsubscribe(endpoint))) throw new ApiError(404, ErrorCode.NOT_FOUND, 'no such subscription');
    return reply.code(204).send();
  });
}
