import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { BranchManager } from './branches/manager.ts';
import type { RootBuilder } from './branches/root-builder.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { Principal } from './auth/principal.ts';
import type { AuditLog } from './audit.ts';
import type { Metrics } from './metrics.ts';
import type { RefusalLimiter } from './rate-limit.ts';
import { VelaError } from '../core/errors.ts';
import { scrubCredentials } from './log-redact.ts';
import { branchRoutes } from './routes/branches.ts';
import { systemRoutes } from './routes/system.ts';

export interface AppDeps {
  manager: BranchManager;
  builder: RootBuilder;
  auth: Authenticator;
  audit: AuditLog;
  metrics: Metrics;
  /** Refused requests per client address; none = no limit (inject tests). */
  limiter?: RefusalLimiter;
  publicHost: string;
  /** PEM of the CA that issued branch postgres certificates (GET /v1/ca). */
  caPem?: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  https?: { cert: Buffer; key: Buffer };
  version: string;
  /** A pino logger (the agent's); none = silent, for inject tests. */
  logger?: FastifyBaseLogger;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** Set by routes for the audit record. */
    auditAction: string | null;
    auditBranch: string | null;
  }
}

export const BODY_LIMIT = 64 * 1024;

/** Builds the agent's HTTP API without listening, so tests can `inject` into it. */
export function build(deps: AppDeps): FastifyInstance {
  // With https the instance serves over an https.Server; routes and hooks are the same.
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('auditAction', null);
  app.decorateRequest('auditBranch', null);

  // Empty bodies are fine for action routes (reset, stop, start); anything else must be a JSON object.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new VelaError('bad_request', 400, 'the body is not valid JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (req.url === '/healthz' || req.url.startsWith('/healthz?')) return;
    const wait = deps.limiter?.retryAfter(req.ip) ?? null;
    if (wait !== null) {
      reply.header('retry-after', String(wait));
      throw new VelaError('rate_limited', 429, `too many refused requests from ${req.ip}; try again in ${wait} s`);
    }
    req.principal = await deps.auth.authenticate(req.headers.authorization);
  });

  // One audit record per mutating request, whatever its outcome; refusals are counted, then summarised.
  app.addHook('onResponse', async (req, reply) => {
    const status = reply.statusCode;
    const actor = req.principal?.actor ?? 'anonymous';
    const action = req.auditAction ?? `${req.method} ${req.routeOptions.url ?? 'unknown'}`;
    if (status === 401 || status === 403 || status === 429) {
      if (status !== 429) deps.limiter?.refused(req.ip);
      deps.audit.denied({ actor, action, branch: req.auditBranch, status, client: req.ip, requestId: req.id });
      return;
    }
    if (!['POST', 'PATCH', 'DELETE', 'PUT'].includes(req.method)) return;
    await deps.audit
      .append({ actor, action, branch: req.auditBranch, result: status < 400 ? 'ok' : 'error', status, requestId: req.id })
      .catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'audit append failed'));
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, code, message } = toHttpError(err, req);
    if (status >= 500) {
      const secrets = deps.manager.list().map((r) => r.password);
      req.log.error({ code, detail: scrubCredentials(String((err as Error).message ?? err), secrets) }, 'request failed');
      deps.metrics.countError(code);
    }
    const body: Record<string, unknown> = { code, message };
    if (err instanceof VelaError && err.details?.conflicts) body.conflicts = err.details.conflicts;
    return reply.status(status).send({ error: body });
  });

  app.setNotFoundHandler((req, reply) => {
    return reply
      .status(404)
      .send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}` } });
  });

  app.register(systemRoutes, deps);
  app.register(branchRoutes, deps);
  return app;
}

/** Maps any error to a status and a message safe to show: 5xx never carry internals. */
function toHttpError(err: unknown, req: FastifyRequest): { status: number; code: string; message: string } {
  if (err instanceof VelaError) {
    if (err.status < 500 || err.code === 'postgres_start_failed' || err.code === 'insufficient_storage' || err.code === 'unavailable') {
      return { status: err.status, code: err.code, message: err.message };
    }
    return { status: err.status, code: err.code, message: `internal error (request id ${req.id}); the agent log has the details` };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 400, code: 'body_too_large', message: `the body is larger than ${BODY_LIMIT / 1024} KiB` };
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 400, code: 'unsupported_media_type', message: 'send the body as application/json' };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: 400, code: 'bad_request', message: (e.message ?? 'bad request').slice(0, 300) };
  }
  return { status: 500, code: 'internal', message: `internal error (request id ${req.id}); the agent log has the details` };
}
