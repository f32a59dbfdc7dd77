import { z } from 'zod';
import { createBranchBody, patchBranchBody } from '../../core/schemas.ts';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { unrepresentable: 'any' });

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } };

function op(summary: string, extra: Record<string, unknown> = {}) {
  return {
    summary,
    security: [{ bearer: [] }],
    responses: {
      '200': { description: 'ok' },
      '400': { description: 'invalid input', content: { 'application/json': { schema: error } } },
      '401': { description: 'missing or invalid token' },
      '403': { description: 'token not allowed' },
      '404': { description: 'no such branch' },
      '409': { description: 'conflict with the branch state' },
    },
    ...extra,
  };
}

/** The agent's API as OpenAPI 3.1, bodies generated from the same zod schemas the routes validate with. */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: { title: 'vela-branch agent', version },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: {
      '/healthz': { get: { summary: 'liveness (no auth)', responses: { '200': { description: 'ok' } } } },
      '/metrics': { get: op('Prometheus metrics') },
      '/v1/branches': {
        get: op('list branches (no credentials)'),
        post: op('create a branch (201 with credentials; existing + ifExists=return: 200, created=false)', {
          requestBody: { required: true, content: { 'application/json': { schema: json(createBranchBody) } } },
        }),
      },
      '/v1/branches/{name}': {
        parameters: [nameParam],
        get: op('one branch; credentials only for a token allowed to write it'),
        patch: op('extend TTL, relabel, protect', { requestBody: { content: { 'application/json': { schema: json(patchBranchBody) } } } }),
        delete: op('destroy the branch (?cascade=1 for children, ?force=1 for protected, admin only)'),
      },
      '/v1/branches/{name}/reset': { parameters: [nameParam], post: op("back to the parent's current state, same port and credentials") },
      '/v1/branches/{name}/rebase': { parameters: [nameParam], post: op('not implemented yet (501)') },
      '/v1/branches/{name}/diff': { parameters: [nameParam], get: op('not implemented yet (501)') },
      '/v1/branches/{name}/stop': { parameters: [nameParam], post: op('stop the branch postgres') },
      '/v1/branches/{name}/start': { parameters: [nameParam], post: op('start it again') },
      '/v1/branches/{name}/refresh': {
        parameters: [nameParam],
        post: op('main only: repeat its last build beside the old one, then swap (admin)'),
      },
      '/v1/init': {
        post: op('(re)build main: empty + seeds, logical import (sourceUrl) or streaming replica (admin)', {
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['mode'],
                  properties: {
                    mode: { enum: ['empty', 'logical', 'physical'] },
                    seeds: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, sql: { type: 'string' } } } },
                    sourceUrl: { type: 'string' },
                    jobs: { type: 'integer', minimum: 1, maximum: 16 },
                  },
                },
              },
            },
          },
        }),
      },
      '/v1/init/progress': { get: op('progress of the current build of main') },
      '/v1/audit': { get: op('audit trail, newest first (?limit, ?branch)') },
      '/v1/ca': { get: op('{pem}: the CA certificate of branch postgres TLS, for sslmode=verify-full') },
    },
  };
}
