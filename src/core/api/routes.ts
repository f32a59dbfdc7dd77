import type { z } from 'zod';
import {
  auditQuery,
  branchParams,
  createBranchBody,
  deleteQuery,
  diffQuery,
  emptyBody,
  initBody,
  patchBranchBody,
  resetQuery,
} from './requests.ts';
import {
  auditList,
  branch,
  branchList,
  buildProgress,
  caCertificate,
  createResult,
  deleteResult,
  doctorReport,
  diffResult,
  health,
  initResult,
  metricsText,
  openApiDocumentSchema,
} from './responses.ts';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export type Tag = 'branches' | 'main' | 'system';

export interface SuccessSpec {
  description: string;
  schema: z.ZodType;
  /** Default application/json. */
  contentType?: 'application/json' | 'text/plain';
}

/** One operation of the agent API: the single source for route validation, the client and /openapi.json. */
export interface RouteSpec {
  method: Method;
  /** OpenAPI form: /v1/branches/{name}. */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** bearer: every request is authenticated before anything else runs; none: only /healthz. */
  auth: 'bearer' | 'none';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success answers by status. */
  responses: Partial<Record<200 | 201, SuccessSpec>>;
  /** Error statuses of this route besides 500 (any route), 400 (routes with input) and 401/403/429 (bearer routes). */
  errors?: ErrorStatus[];
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 429 | 500 | 501 | 502 | 503 | 507;

const route = <const R extends RouteSpec>(r: R): R => r;

const one = (description: string) => ({ 200: { description, schema: branch } }) as const;

/**
 * Every operation of the agent's v1 API, keyed by operationId. Adding a route: one entry here and
 * one handler in src/agent/http/routes/ (the compiler asks for it).
 */
export const routes = {
  getHealth: route({
    method: 'GET',
    path: '/healthz',
    tag: 'system',
    auth: 'none',
    summary: 'Liveness, version and storage kind (no auth)',
    responses: { 200: { description: 'the agent is up', schema: health } },
    errors: [503],
  }),
  getMetrics: route({
    method: 'GET',
    path: '/metrics',
    tag: 'system',
    auth: 'bearer',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'metrics', schema: metricsText, contentType: 'text/plain' } },
  }),
  getOpenApi: route({
    method: 'GET',
    path: '/openapi.json',
    tag: 'system',
    auth: 'bearer',
    summary: 'This API as OpenAPI 3.1',
    responses: { 200: { description: 'the OpenAPI document', schema: openApiDocumentSchema } },
  }),
  listAudit: route({
    method: 'GET',
    path: '/v1/audit',
    tag: 'system',
    auth: 'bearer',
    summary: 'Audit trail, newest first',
    description: 'One record per mutating request: who, what, when, result.',
    query: auditQuery,
    responses: { 200: { description: 'audit records', schema: auditList } },
  }),
  getDoctor: route({
    method: 'GET',
    path: '/v1/doctor',
    tag: 'system',
    auth: 'bearer',
    summary: 'What the agent set aside instead of acting on it (admin)',
    description:
      'Unreadable registry records (moved to state/quarantine/), volumes kept because their record is unreadable, and volumes no record claimed (renamed into quarantine). The agent deletes none of them.',
    responses: { 200: { description: 'the report', schema: doctorReport } },
  }),
  getCa: route({
    method: 'GET',
    path: '/v1/ca',
    tag: 'system',
    auth: 'bearer',
    summary: 'The CA certificate of branch postgres TLS',
    description: 'Public material, but only to callers the agent knows: clients use it for sslmode=verify-full.',
    responses: { 200: { description: 'the CA certificate', schema: caCertificate } },
    errors: [404],
  }),
  listBranches: route({
    method: 'GET',
    path: '/v1/branches',
    tag: 'branches',
    auth: 'bearer',
    summary: 'List branches (no credentials)',
    responses: { 200: { description: 'every branch', schema: branchList } },
  }),
  createBranch: route({
    method: 'POST',
    path: '/v1/branches',
    tag: 'branches',
    auth: 'bearer',
    summary: 'Create a branch',
    description: '201 with credentials. An existing branch: with ifExists=return 200 and created=false (same credentials); otherwise 409.',
    body: createBranchBody,
    responses: {
      201: { description: 'created', schema: createResult },
      200: { description: 'it existed (ifExists=return)', schema: createResult },
    },
    errors: [404, 409, 503, 507],
  }),
  getBranch: route({
    method: 'GET',
    path: '/v1/branches/{name}',
    tag: 'branches',
    auth: 'bearer',
    summary: 'One branch',
    description: 'Credentials only for a token allowed to write it.',
    params: branchParams,
    responses: one('the branch'),
    errors: [404],
  }),
  updateBranch: route({
    method: 'PATCH',
    path: '/v1/branches/{name}',
    tag: 'branches',
    auth: 'bearer',
    summary: 'Extend the TTL, relabel, protect',
    params: branchParams,
    body: patchBranchBody,
    responses: one('the updated branch'),
    errors: [404, 409],
  }),
  deleteBranch: route({
    method: 'DELETE',
    path: '/v1/branches/{name}',
    tag: 'branches',
    auth: 'bearer',
    summary: 'Destroy a branch, free its storage and port',
    description: 'A branch with children needs cascade; a protected one needs force and an admin token.',
    params: branchParams,
    query: deleteQuery,
    responses: { 200: { description: 'the deleted branches', schema: deleteResult } },
    errors: [404, 409],
  }),
  resetBranch: route({
    method: 'POST',
    path: '/v1/branches/{name}/reset',
    tag: 'branches',
    auth: 'bearer',
    summary: "Back to the parent's current state",
    description: 'Keeps name, port and credentials, so connection strings stay valid.',
    params: branchParams,
    query: resetQuery,
    body: emptyBody,
    responses: one('the reset branch'),
    errors: [404, 409, 503],
  }),
  rebaseBranch: route({
    method: 'POST',
    path: '/v1/branches/{name}/rebase',
    tag: 'branches',
    auth: 'bearer',
    summary: "Replay the branch's changes onto its parent's current state",
    description:
      "Snapshots the parent's current state beside the branch, replays the branch's change log onto it transaction by transaction (DDL as logged, rows by key) and swaps it in with the same name, port and credentials. The first conflict stops it: 409 with error.conflicts[] (kind, table, key, statement, the parent's current value), and the branch is left exactly as it was. Tables without a key are refused before anything is replayed (409, kind no_key). Clients of the branch are disconnected while it runs.",
    params: branchParams,
    body: emptyBody,
    responses: one('the rebased branch'),
    errors: [404, 409, 503],
  }),
  diffBranch: route({
    method: 'GET',
    path: '/v1/branches/{name}/diff',
    tag: 'branches',
    auth: 'bearer',
    summary: 'Schema diff and data diff summary against its parent',
    description:
      'The migration SQL from the parent to the branch with a summary, and the rows the branch changed per table since its fork. Both the branch and its parent must be running (409 names the one that is not). rows > 0 needs a token allowed to write the branch (403): sample keys are data.',
    params: branchParams,
    query: diffQuery,
    responses: { 200: { description: 'SQL, summary, objects by kind and data counts', schema: diffResult } },
    errors: [404, 409, 501],
  }),
  stopBranch: route({
    method: 'POST',
    path: '/v1/branches/{name}/stop',
    tag: 'branches',
    auth: 'bearer',
    summary: 'Stop the branch postgres (storage, port and credentials kept)',
    params: branchParams,
    body: emptyBody,
    responses: one('the stopped branch'),
    errors: [404, 409],
  }),
  startBranch: route({
    method: 'POST',
    path: '/v1/branches/{name}/start',
    tag: 'branches',
    auth: 'bearer',
    summary: 'Start a stopped branch',
    description:
      'When the capacity is full, the least recently used idle branch is suspended first; 503 with code capacity when none is idle.',
    params: branchParams,
    body: emptyBody,
    responses: one('the running branch'),
    errors: [404, 409, 503],
  }),
  initMain: route({
    method: 'POST',
    path: '/v1/init',
    tag: 'main',
    auth: 'bearer',
    summary: '(Re)build main (admin)',
    description:
      'Empty + seeds, a logical import (sourceUrl) or a streaming replica, built beside the old main and swapped in when ready; a failed build leaves the old main serving.',
    body: initBody,
    responses: { 201: { description: 'the new main', schema: initResult } },
    errors: [409, 502],
  }),
  getBuildProgress: route({
    method: 'GET',
    path: '/v1/init/progress',
    tag: 'main',
    auth: 'bearer',
    summary: 'Progress of the current (or last) build of main',
    responses: { 200: { description: 'build progress', schema: buildProgress } },
  }),
  refreshMain: route({
    method: 'POST',
    path: '/v1/branches/{name}/refresh',
    tag: 'main',
    auth: 'bearer',
    summary: 'Repeat the last build of main (admin)',
    description: 'Only main can be refreshed; other branches use reset.',
    params: branchParams,
    body: emptyBody,
    responses: one('the rebuilt main'),
    errors: [409, 502],
  }),
} as const;

export type Routes = typeof routes;
export type OperationId = keyof Routes;

/** Fastify's form of a path: /v1/branches/:name. */
export const fastifyPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type In<S> = S extends z.ZodType ? z.input<S> : undefined;
export type ParamsOf<K extends OperationId> = Out<Routes[K] extends { params: infer P } ? P : undefined>;
export type QueryOf<K extends OperationId> = Out<Routes[K] extends { query: infer Q } ? Q : undefined>;
export type BodyOf<K extends OperationId> = Out<Routes[K] extends { body: infer B } ? B : undefined>;
/** What a client sends as the body (before defaults and transforms). */
export type BodyInputOf<K extends OperationId> = In<Routes[K] extends { body: infer B } ? B : undefined>;
/** Any success body of the operation. */
export type ResultOf<K extends OperationId> = {
  [S in keyof Routes[K]['responses']]: Routes[K]['responses'][S] extends { schema: infer T } ? Out<T> : never;
}[keyof Routes[K]['responses']];
