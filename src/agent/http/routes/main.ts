import type { ServerDeps } from '../deps.ts';
import { endpointOf } from '../deps.ts';
import { badRequest } from '../../../core/errors.ts';
import { toBranch } from '../../branches/connection.ts';
import type { RouteHandlers } from '../register.ts';
import { branchAccess } from '../access.ts';

/** (Re)building main: empty + seeds, a logical import or a streaming replica, built beside the old one. */
export function mainRoutes(deps: ServerDeps): RouteHandlers<'initMain' | 'getBuildProgress' | 'refreshMain'> {
  const { may, allowed } = branchAccess(deps);
  return {
    initMain: {
      audit: { action: 'main.init', branch: 'main' },
      handle: async ({ reply, principal, body }) => {
        may(principal, 'init', null);
        const rec = await deps.builder.build(body);
        reply.status(201);
        return { branch: toBranch(rec, endpointOf(deps), allowed(principal, 'credentials', rec.name)) };
      },
    },

    getBuildProgress: {
      handle: async ({ principal }) => {
        may(principal, 'list', null);
        return deps.builder.progress;
      },
    },

    refreshMain: {
      audit: { action: 'main.refresh' },
      handle: async ({ principal, params }) => {
        may(principal, 'refresh', null);
        if (params.name !== 'main') throw badRequest('only main can be refreshed (other branches: reset)');
        const rec = await deps.builder.refresh();
        return toBranch(rec, endpointOf(deps), allowed(principal, 'credentials', rec.name));
      },
    },
  };
}
