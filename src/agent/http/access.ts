import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from './deps.ts';
import type { Principal } from '../auth/principal.ts';
import { allowed, authorize } from '../auth/access.ts';
import type { Action, Lookup, Target } from '../auth/access.ts';
import { VelaError } from '../../core/errors.ts';
import { routes } from '../../core/api/routes.ts';
import type { OperationId } from '../../core/api/routes.ts';

/**
 * Who is asking: runs first on every request. Routes the table marks `auth: 'none'` (only /healthz)
 * skip it; everything else, unknown URLs included, needs a valid token before any input is read,
 * and a client with too many refusals lately is turned away (429) before its token is even checked.
 */
export async function authenticateRequest(deps: ServerDeps, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const id = req.routeOptions.config?.operationId as OperationId | undefined;
  if (id && routes[id].auth === 'none') return;
  const wait = deps.limiter?.retryAfter(req.ip) ?? null;
  if (wait !== null) {
    reply.header('retry-after', String(wait));
    throw new VelaError('rate_limited', 429, `too many refused requests from ${req.ip}; try again in ${wait} s`);
  }
  req.principal = await deps.auth.authenticate(req.headers.authorization);
}

/**
 * The branch access question for handlers: may this principal do `action` to `target`? Throws the
 * 403 (or 404) that says why. The rules live in auth/access.ts; this binds them to the registry.
 */
export function branchAccess(deps: ServerDeps) {
  const lookup: Lookup = (name) => deps.manager.find(name);
  return {
    lookup,
    may: (p: Principal, action: Action, target: Target, force = false) => authorize(p, action, target, lookup, { force }),
    allowed: (p: Principal, action: Action, target: Target) => allowed(p, action, target, lookup),
  };
}
