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
  const tokens = ROLES.slice(access === 'anyone' ? 0 : ROLES.indexOf(access)).map((r) => ({ [r]: [] }));
  return access === 'anyone' ? [{}, ...tokens] : tokens;
}
/** the services' token: the device directory (GET /api/v1/devices/:id) only */
export const SERVICE_SCHEME = 'service';

const securitySchemes = {
  viewer: { type: 'http', scheme: 'bearer', description: 'VIEWER_TOKEN: read devices, vessels, device status' },
  operator: { type: 'http', scheme: 'bearer', description: 'OPERATOR_TOKEN: acknowledge and cancel alerts, manual alerts, release orders, storm areas (and what a viewer may)' },
  admin: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN: register devices, Modbus writes, dead letters (and what an operator may)' },
  [SERVICE_SCHEME]: { type: 'http', scheme: 'bearer', description: 'SVC_TOKEN: the platform\'s own services' },
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
