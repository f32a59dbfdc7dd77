import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { VelaError } from '../../core/errors.ts';
import type { ApiErrorBody, RebaseConflict } from '../../core/api/responses.ts';
import { scrubCredentials } from '../../core/scrub-credentials.ts';
import type { ServerDeps } from './deps.ts';
import { authenticateRequest } from './access.ts';
import { BODY_LIMIT, toHttpError } from './errors.ts';
import { registerRoutes } from './register.ts';
import { branchRoutes } from './routes/branches.ts';
import { mainRoutes } from './routes/main.ts';
import { systemRoutes } from './routes/system.ts';

export type { ServerDeps } from './deps.ts';
export { BODY_LIMIT } from './errors.ts';

/** Builds the agent's HTTP server without listening, so tests can `inject` into it. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  // With https the instance serves over an https.Server; routes and hooks are the same.
  const server = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
  });
  server.decorateRequest('principal', null);
  server.decorateRequest('auditAction', null);
  server.decorateRequest('auditBranch', null);

  // Empty bodies are fine for action routes (reset, stop, start); anything else must be a JSON object.
  server.removeContentTypeParser('application/json');
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new VelaError('bad_request', 400, 'the body is not valid JSON'), undefined);
    }
  });

  server.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    await authenticateRequest(deps, req, reply);
  });

  // One audit record per mutating request, whatever its outcome; refusals are counted, then summarised.
  server.addHook('onResponse', async (req, reply) => {
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

  server.setErrorHandler((err, req, reply) => {
    const { status, code, message } = toHttpError(err, req);
    if (status >= 500) {
      const secrets = deps.manager.list().map((r) => r.password);
      req.log.error({ code, detail: scrubCredentials(String((err as Error).message ?? err), secrets) }, 'request failed');
      deps.metrics.countError(code);
    }
    const body: ApiErrorBody = { error: { code, message } };
    if (err instanceof VelaError && Array.isArray(err.details?.conflicts)) body.error.conflicts = err.details.conflicts as RebaseConflict[];
    return reply.status(status).send(body);
  });

  server.setNotFoundHandler((req, reply) => {
    return reply
      .status(404)
      .send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}` } });
  });

  registerRoutes(server, { ...systemRoutes(deps), ...branchRoutes(deps), ...mainRoutes(deps) }, { checkAnswers: deps.checkAnswers });
  return server;
}
