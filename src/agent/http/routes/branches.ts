import type { ServerDeps } from '../deps.ts';
import { endpointOf } from '../deps.ts';
import type { Principal } from '../../auth/principal.ts';
import { isAdmin } from '../../auth/principal.ts';
import { forbidden, unavailable, VelaError } from '../../../core/errors.ts';
import type { Operation } from '../../metrics.ts';
import { toBranch } from '../../branches/connection.ts';
import type { BranchRecord } from '../../branches/registry.ts';
import type { RouteHandlers } from '../register.ts';
import { branchAccess } from '../access.ts';

type BranchOps =
  | 'listBranches'
  | 'createBranch'
  | 'getBranch'
  | 'updateBranch'
  | 'deleteBranch'
  | 'resetBranch'
  | 'rebaseBranch'
  | 'diffBranch'
  | 'stopBranch'
  | 'startBranch';

/** Branch routes: every mutation checks scope, name prefix and allowed parent before touching anything. */
export function branchRoutes(deps: ServerDeps): RouteHandlers<BranchOps> {
  const { manager, metrics, lifecycle } = deps;
  const { may, allowed } = branchAccess(deps);
  const view = (rec: BranchRecord, p: Principal) => toBranch(rec, endpointOf(deps), allowed(p, 'credentials', rec.name));

  const timed = async <T>(op: Operation, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      const r = await fn();
      metrics.observeOperation(op, (performance.now() - t0) / 1000, true);
      return r;
    } catch (err) {
      metrics.observeOperation(op, (performance.now() - t0) / 1000, false);
      if (err instanceof VelaError && err.status < 500) metrics.countError(err.code);
      throw err;
    }
  };

  const stopOrStart = (action: 'stop' | 'start') => ({
    audit: { action: `branch.${action}` },
    handle: async ({ principal, params }: { principal: Principal; params: { name: string } }) => {
      may(principal, action, params.name);
      if (action === 'start' && lifecycle) return view(await lifecycle.wake(params.name), principal);
      return view(await manager[action](params.name), principal);
    },
  });

  return {
    listBranches: {
      handle: async ({ principal }) => {
        may(principal, 'list', null);
        return { branches: manager.list().map((r) => toBranch(r, endpointOf(deps), false)) };
      },
    },

    createBranch: {
      audit: { action: 'branch.create' },
      handle: async ({ req, reply, principal, body }) => {
        req.auditBranch = body.name;
        may(principal, 'create', { name: body.name, parent: body.parent ?? 'main' });
        const { record, created } = await timed('create', () => (lifecycle ?? manager).create(body));
        reply.status(created ? 201 : 200);
        return { branch: view(record, principal), created };
      },
    },

    getBranch: {
      handle: async ({ principal, params }) => {
        may(principal, 'list', null);
        const rec = manager.get(params.name);
        const b = view(rec, principal);
        if (rec.standby) b.replication = await manager.replicationLag(rec);
        return b;
      },
    },

    updateBranch: {
      audit: { action: 'branch.update' },
      handle: async ({ principal, params, body }) => {
        may(principal, body.protected !== undefined ? 'protect' : 'patch', params.name);
        return view(await manager.patch(params.name, body), principal);
      },
    },

    deleteBranch: {
      audit: { action: 'branch.delete' },
      handle: async ({ principal, params: { name }, query }) => {
        may(principal, 'delete', name, query.force);
        if (query.cascade) for (const d of descendants(manager.list(), name)) may(principal, 'delete', d, query.force);
        const force = query.force === true && isAdmin(principal);
        const deleted = await timed('delete', () => manager.delete(name, { cascade: query.cascade, force }));
        return { deleted };
      },
    },

    resetBranch: {
      audit: { action: 'branch.reset' },
      handle: async ({ principal, params: { name }, query }) => {
        may(principal, 'reset', name, query.force);
        const force = query.force === true && isAdmin(principal);
        return view(await timed('reset', () => (lifecycle ?? manager).reset(name, { force })), principal);
      },
    },

    rebaseBranch: {
      audit: { action: 'branch.rebase' },
      handle: async ({ principal, params: { name } }) => {
        may(principal, 'rebase', name);
        if (!deps.rebaser) throw unavailable('rebase is not available on this agent');
        const rebaser = deps.rebaser;
        // A stopped branch runs again first (its log is drained while it runs), with room made for it.
        if (lifecycle && manager.find(name)?.state === 'stopped') await lifecycle.wake(name);
        return view(await timed('rebase', () => rebaser.rebase(name)), principal);
      },
    },

    diffBranch: {
      handle: async ({ reply, principal, params, query }) => {
        may(principal, 'diff', params.name);
        // Sample keys are the branch's data (whole rows for keyless tables): only for who may connect to it.
        if (query.rows && !allowed(principal, 'credentials', params.name))
          throw forbidden(
            `rows (sample keys) needs a token allowed to write branch ${params.name}; without rows the diff is open to readers`,
          );
        if (!deps.differ) return reply.status(501).send({ error: { code: 'not_implemented', message: 'this server has no diff' } });
        return deps.differ.diff(params.name, { rows: query.rows });
      },
    },

    stopBranch: stopOrStart('stop'),
    startBranch: stopOrStart('start'),
  };
}

function descendants(all: BranchRecord[], name: string): string[] {
  const out: string[] = [];
  const walk = (n: string) => {
    for (const c of all.filter((r) => r.parent === n)) {
      out.push(c.name);
      walk(c.name);
    }
  };
  walk(name);
  return out;
}
