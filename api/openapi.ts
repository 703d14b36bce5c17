import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, onRequestHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { createJsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { ROLES, type Access } from './auth.ts';
import { parseInput } from './errors.ts';

/*
 * One declaration per route documents and validates it (api/README.md "Declaring a route"): the
 * route's `schema` carries the zod schemas of its querystring, params, body and, where one
 * exists, response. Fastify validates input with them (through parseInput, so a refusal reads
 * as before: 400 HW_ERR_BAD_REQUEST naming the field) and hands the handler the parsed value;
 * @fastify/swagger turns the same objects into OpenAPI 3 with z.toJSONSchema.
 */

export const DOCS_PREFIX = '/docs';

const ROLE = Symbol('huewatch.role');
type RoleHook = preHandlerAsyncHookHandler & { [ROLE]?: Access };

/** Marks a `requireRole(access)` hook with its access, so the route is documented with the matching security. */
export function withRole(hook: preHandlerAsyncHookHandler, access: Access): preHandlerAsyncHookHandler {
  return Object.assign(hook, { [ROLE]: access });
}

/**
 * The security requirement of an access: the role's bearer token or a stronger one (roles include
 * those before them); for `anyone` a token is optional (`{}`: OpenAPI 3.1 §4.8.30).
 */
export function securityFor(access: Access): Array<Record<string, string[]>> {
  const tokens = [...ROLES.slice(access === 'anyone' ? 0 : ROLES.indexOf(access)).map((r) => ({ [r]: [] })), { [SESSION_SCHEME]: [] }];
  return access === 'anyone' ? [{}, ...tokens] : tokens;
}
/** the console's session cookie: what the signed-in account's role allows */
export const SESSION_SCHEME = 'session';
/** the services' token: the device directory (GET /api/v1/devices/:id) only */
export const SERVICE_SCHEME = 'service';
/** the Node-RED flows' token (NODERED_API_TOKEN): an alert's e-mail/SMS recipients only */
export const FLOWS_SCHEME = 'flows';

const securitySchemes = {
  viewer: { type: 'http', scheme: 'bearer', description: 'VIEWER_TOKEN, or the token (hwu_…) of a viewer account: read devices, vessels, device status' },
  operator: { type: 'http', scheme: 'bearer', description: 'OPERATOR_TOKEN, or the token of an operator account: acknowledge and cancel alerts, manual alerts, release orders, storm areas (and what a viewer may)' },
  admin: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or the token of an admin account: register devices, accounts, Modbus writes, dead letters (and what an operator may)' },
  [SESSION_SCHEME]: { type: 'apiKey', in: 'cookie', name: 'huewatch_session', description: 'the console\'s session cookie (POST /api/v1/session), with its account\'s role; a request that changes something also sends X-HueWatch-CSRF' },
  [SERVICE_SCHEME]: { type: 'http', scheme: 'bearer', description: 'SVC_TOKEN: the platform\'s own services' },
  [FLOWS_SCHEME]: { type: 'http', scheme: 'bearer', description: 'NODERED_API_TOKEN: the Node-RED flows, GET /api/v1/alerts/{id}/recipients only' },
} as const;

/** input validation with the route's zod schemas; a refusal is parseInput's ApiError */
const zodValidator = ({ schema }: { schema: z.ZodType }) => (data: unknown) => {
  try {
    return { value: parseInput(schema, data) };
  } catch (error) {
    return { error: error as Error };
  }
};

/**
 * Call at the top of a route plugin: its routes validate (and serialize a `response`) with the zod
 * schemas they declare, also when the plugin is registered on a bare fastify (tests do), and
 * their handlers get the parsed input typed from those schemas.
 */
export function zodRoutes(fastify: FastifyInstance) {
  fastify.setValidatorCompiler(zodValidator);
  fastify.setSerializerCompiler(serializerCompiler);
  return fastify.withTypeProvider<ZodTypeProvider>();
}

/**
 * Installs validation, serialization and the OpenAPI document on `app`; call before any route is
 * registered (the document is collected with an onRoute hook).
 */
export async function installOpenApi(app: FastifyInstance): Promise<void> {
  app.setValidatorCompiler(zodValidator);
  app.setSerializerCompiler(serializerCompiler);

  // A route guarded by requireRole is documented with that role's security, and the guard runs
  // on request, before validation: a caller without a token learns nothing about the input.
  app.addHook('onRoute', (route) => {
    const hooks = [route.preHandler ?? []].flat() as RoleHook[];
    const guards = hooks.filter((h) => h[ROLE]);
    if (guards.length === 0) return;
    route.schema = { ...route.schema, security: route.schema?.security ?? securityFor(guards[0]![ROLE]!) };
    route.preHandler = hooks.filter((h) => !h[ROLE]);
    route.onRequest = [...[route.onRequest ?? []].flat(), ...(guards as unknown as onRequestHookHandler[])];
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'HueWatch API',
        version: 'v1',
        description: 'Rivers, reservoirs, rain, air quality and fishing vessels of Thừa Thiên Huế, and the alerts they raise. Errors are `{ code, message }` with a stable `HW_ERR_…` code.',
      },
      components: { securitySchemes: securitySchemes as never },
    },
    transform: createJsonSchemaTransform({ skipList: [] }),
  });
  // serves its own assets (swagger-ui-dist from node_modules): works with no internet
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
