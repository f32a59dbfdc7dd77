import { z } from 'zod';
import { errorBody } from './responses.ts';
import type { OpenApiDocument } from './responses.ts';
import { routes } from './routes.ts';
import type { ErrorStatus, RouteSpec, Tag } from './routes.ts';

type Json = Record<string, unknown>;

const TAGS: Record<Tag, string> = {
  branches: 'Copy-on-write PostgreSQL branches: create, inspect, change, reset, stop, start, delete',
  main: 'The root branch main: build it from seeds, a logical import or a replica, and rebuild it',
  system: 'Health, metrics, audit trail and this document',
};

const ERROR_TEXT: Record<ErrorStatus, string> = {
  400: 'invalid input: the message names each bad field',
  401: 'missing or invalid token',
  403: 'this token may not do that',
  404: 'no such branch (GET /v1/ca: this agent runs branch postgres without TLS)',
  409: 'conflicts with the branch state (exists, has children, protected, busy)',
  429: 'too many refused requests from this address lately; Retry-After says when to try again',
  500: 'internal error; the agent log has the details (by request id)',
  501: 'not implemented yet',
  502: 'the source database cannot be reached or refused the login',
  503: 'the agent is shutting down or out of capacity',
  507: 'the storage pool is full',
};

/** Every error answer of a route: the ones any route can give plus its own. */
export function errorStatuses(r: RouteSpec): ErrorStatus[] {
  const all = new Set<ErrorStatus>([...(r.errors ?? []), 500]);
  if (r.params || r.query || r.body) all.add(400);
  if (r.auth === 'bearer') {
    all.add(401);
    all.add(403);
    all.add(429);
  }
  return [...all].sort((a, b) => a - b);
}

/** The agent's API as OpenAPI 3.1, generated from the route table and its zod schemas. */
export function openApiDocument(version: string): OpenApiDocument {
  const components: Record<string, Json> = {};
  const schemaOf = (s: z.ZodType) => toJsonSchema(s, components);
  schemaOf(errorBody);
  const paths: Record<string, Record<string, Json>> = {};
  for (const [operationId, r] of Object.entries(routes) as [string, RouteSpec][]) {
    const responses: Record<string, Json> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      const type = res.contentType ?? 'application/json';
      responses[status] = { description: res.description, content: { [type]: { schema: schemaOf(res.schema) } } };
    }
    for (const status of errorStatuses(r)) {
      responses[String(status)] = { $ref: `#/components/responses/E${status}` };
    }
    const op: Json = {
      operationId,
      tags: [r.tag],
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      security: r.auth === 'bearer' ? [{ bearer: [] }] : [],
    };
    const parameters = [...parametersOf(r.params, 'path', components), ...parametersOf(r.query, 'query', components)];
    if (parameters.length) op.parameters = parameters;
    if (r.body) {
      // Action routes accept no body at all as well as {}.
      const optional = r.body.safeParse(undefined).success || r.body.safeParse({}).success;
      op.requestBody = { required: !optional, content: { 'application/json': { schema: schemaOf(r.body) } } };
    }
    op.responses = responses;
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  const errorResponses: Record<string, Json> = {};
  for (const status of Object.keys(ERROR_TEXT).map(Number) as ErrorStatus[]) {
    errorResponses[`E${status}`] = {
      description: ERROR_TEXT[status],
      ...(status === 429 ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } } } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'vela-branch agent',
      version,
      description: 'Copy-on-write PostgreSQL branches. Every route but /healthz needs Authorization: Bearer <token>.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: 'http://127.0.0.1:7070', description: 'the agent on this host (default --listen)' }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an agent token or a GitHub Actions OIDC JWT' } },
      schemas: components,
      responses: errorResponses,
    },
  };
  return doc;
}

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query', components: Record<string, Json>): Json[] {
  if (!schema) return [];
  const json = toJsonSchema(schema, components) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * zod → JSON Schema 2020-12 (what OpenAPI 3.1 uses), as the client sends it (io: input). Schemas
 * with an id go to components and are referenced, so each shape is written once in the document.
 */
function toJsonSchema(schema: z.ZodType, components: Record<string, Json>): Json {
  const out = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      // The date-time format says it; zod's long equivalent pattern only adds noise.
      if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
    },
  }) as Json;
  const fixed = rewriteRefs(out) as Json;
  const { $defs, $schema: _schema, id, ...rest } = fixed as Json & { $defs?: Record<string, Json>; id?: string };
  for (const [name, def] of Object.entries($defs ?? {})) components[name] = stripId(def);
  const ownId = (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id ?? id;
  if (typeof ownId === 'string') {
    // zod puts a root that has an id into $defs itself and answers a bare $ref.
    if (!('$ref' in rest && Object.keys(rest).length === 1)) components[ownId] = rest;
    return { $ref: `#/components/schemas/${ownId}` };
  }
  return rest;
}

function stripId(def: Json): Json {
  const { id: _id, ...rest } = def;
  return rest;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : rewriteRefs(v);
    }
    return out;
  }
  return value;
}
