import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { routes, fastifyPath } from '../../core/api/routes.ts';
import type { BodyOf, OperationId, ParamsOf, QueryOf, ResultOf, RouteSpec, Routes } from '../../core/api/routes.ts';
import { parse } from './validate.ts';

export interface RouteContext<K extends OperationId> {
  req: FastifyRequest;
  reply: FastifyReply;
  /** Authenticated before anything else ran (null only on routes without auth). */
  principal: Routes[K]['auth'] extends 'bearer' ? Principal : null;
  params: ParamsOf<K>;
  query: QueryOf<K>;
  body: BodyOf<K>;
}

export interface RouteHandler<K extends OperationId> {
  /** The audit record's action (mutating routes); its branch defaults to the name in the path. */
  audit?: { action: string; branch?: string };
  /** Returns a success body of the route (or the reply, when it sent something itself). */
  handle(ctx: RouteContext<K>): Promise<ResultOf<K> | FastifyReply>;
}

export type RouteHandlers<K extends OperationId = OperationId> = { [P in K]: RouteHandler<P> };

/**
 * Registers every operation of the API table with its handler. Inputs are parsed with the table's
 * zod schemas (a 400 naming each bad field) before the handler runs, so handlers get typed values.
 */
export function registerRoutes(server: FastifyInstance, handlers: RouteHandlers, opts: { checkAnswers?: boolean } = {}): void {
  for (const id of Object.keys(routes) as OperationId[]) {
    const spec: RouteSpec = routes[id];
    const handler = handlers[id] as RouteHandler<OperationId>;
    server.route({
      method: spec.method,
      url: fastifyPath(spec.path),
      config: { operationId: id },
      handler: async (req, reply) => {
        if (handler.audit) {
          req.auditAction = handler.audit.action;
          req.auditBranch = handler.audit.branch ?? null;
        }
        const params = spec.params ? parse(spec.params, req.params, 'branch name') : undefined;
        if (params && typeof params.name === 'string' && handler.audit && !handler.audit.branch) req.auditBranch = params.name;
        const query = spec.query ? parse(spec.query, req.query, 'query') : undefined;
        const body = spec.body ? parse(spec.body, req.body, 'body') : undefined;
        const ctx = { req, reply, principal: req.principal, params, query, body } as RouteContext<OperationId>;
        const answer = await handler.handle(ctx);
        if (opts.checkAnswers && answer !== reply) checkAnswer(id, spec, reply.statusCode, answer);
        return answer;
      },
    });
  }
}

/** The contract's side of a success answer: a mismatch means the table and the handler disagree. */
function checkAnswer(id: OperationId, spec: RouteSpec, status: number, answer: unknown): void {
  const expected = spec.responses[status as 200 | 201];
  if (!expected) throw new Error(`${id} answered ${status}, which the route table does not list`);
  const r = expected.schema.safeParse(answer);
  if (!r.success) {
    const problems = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    throw new Error(`${id} answered ${status} with a body the route table does not describe: ${problems.join('; ')}`);
  }
}
