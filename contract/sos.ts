import { z } from 'zod';

/**
 * A resident's call for help (issue #15.3), as the residents' page, another app over HTTP, or a
 * registered device over MQTT sends it, and as the operations centre handles it. Phone and position
 * are personal data: operators only, deleted after the retention period (api/sos/desk.ts).
 */

/** Vietnamese phone numbers: 0 or +84 then 9 digits (mobile 03/05/07/08/09, landline 02x), spaces and dots allowed */
export const vnPhone = z
  .string()
  .transform((s) => s.replace(/[\s.-]/g, ''))
  .pipe(z.string().regex(/^(?:\+84|0)[235789]\d{8}$/, { error: 'expected a Vietnamese phone number, e.g. 0912 345 678 or +84912345678' }));

export const sosRequest = z.object({
  lat: z.number().min(15.9).max(16.9, { error: 'outside Thừa Thiên Huế' }),
  lon: z.number().min(107.0).max(108.3, { error: 'outside Thừa Thiên Huế' }),
  /** where the position came from: the browser's geolocation, or a place picked on the map */
  located: z.enum(['gps', 'map']).default('map'),
  /** accuracy of a browser position, metres */
  accuracyM: z.number().nonnegative().max(100_000).optional(),
  text: z.string().trim().min(1, { error: 'say in a few words what is happening' }).max(500),
  phone: vnPhone,
  /** the sending app's install id (rate limit per device) */
  deviceId: z.string().regex(/^[A-Za-z0-9_-]{6,64}$/).optional(),
  lang: z.enum(['vi', 'en']).default('vi'),
}).strict();
export type SosRequest = z.input<typeof sosRequest>;

export const SOS_STATUSES = ['new', 'taken', 'assigned', 'closed'] as const;
export const sosStatus = z.enum(SOS_STATUSES);

export const sosStep = z.object({
  at: z.string(),
  action: z.enum(['received', 'taken', 'assigned', 'closed']),
  /** the person who acted (an operator's account name); none for `received` */
  by: z.string().optional(),
  unit: z.object({ id: z.string(), name: z.string() }).optional(),
  note: z.string().optional(),
});

/** An alert in force at the place of the call when it came in (its circle holds the point). */
export const sosAlertLink = z.object({ id: z.string(), key: z.string(), headline: z.object({ vi: z.string(), en: z.string() }), level: z.number() });

export const sosRecord = z.object({
  id: z.string(),
  receivedAt: z.string(),
  status: sosStatus,
  /** the district the point falls in, by the nearest station's district (for the rescue units) */
  district: z.string().nullable(),
  alerts: z.array(sosAlertLink),
  steps: z.array(sosStep),
  /** personal data: absent once purged */
  personal: z.object({ lat: z.number(), lon: z.number(), located: z.enum(['gps', 'map']), accuracyM: z.number().optional(), text: z.string(), phone: z.string() }).optional(),
  /** sha256 hex of the resident's tracking token (the token itself is only in the reply to the sender) */
  trackSha256: z.string(),
  purgedAt: z.string().optional(),
});
export type SosRecord = z.infer<typeof sosRecord>;
export type SosStep = z.infer<typeof sosStep>;
