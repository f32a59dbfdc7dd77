import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppDeps } from '../app.ts';
import type { Principal } from '../auth/principal.ts';
import { isAdmin } from '../auth/principal.ts';
import { allowed, authorize } from '../auth/access.ts';
import type { Action, Target } from '../auth/access.ts';
import { createBranchBody, patchBranchBody, branchParams, deleteQuery, resetQuery } from '../../core/schemas.ts';
import { badRequest, VelaError } from '../../core/errors.ts';
import { toBranch } from '../branches/connection.ts';
import type { BranchRecord } from '../branches/registry.ts';
import { parse } from './validate.ts';
import { z } from 'zod';

const emptyBody = z.object({}).strict();
const seed = z.object({ name: z.string().min(1).max(200), sql: z.string().max(60_000) }).strict();
const initBody = z
  .object({
    mode: z.enum(['empty', 'logical', 'physical']),
    seeds: z.array(seed).max(20).optional(),
    sourceUrl: z
      .string()
      .max(2000)
      .regex(/^postgres(ql)?:\/\//, 'expected postgresql://user:password@host:port/database')
      .optional(),
    jobs: z.number().int().min(1).max(16).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.mode !== 'empty' && !b.sourceUrl)
      ctx.addIssue({ code: 'custom', path: ['sourceUrl'], message: `mode ${b.mode} needs sourceUrl` });
    if (b.mode === 'empty' && b.sourceUrl) ctx.addIssue({ code: 'custom', path: ['sourceUrl'], message: 'mode empty takes no sourceUrl' });
    if (b.mode !== 'empty' && b.seeds) ctx.addIssue({ code: 'custom', path: ['seeds'], message: 'seeds go with mode empty' });
  });

function who(req: FastifyRequest): Principal {
  return req.principal!;
}

/** Branch routes: every mutation checks scope, name prefix and allowed parent before touching anything. */
export async function branchRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { manager, metrics } = deps;
  const lookup = (name: string) => manager.find(name);
  const may = (p: Principal, action: Action, target: Target, force = false) => authorize(p, action, target, lookup, { force });
  const view = (rec: BranchRecord, p: Principal) => toBranch(rec, deps.publicHost, allowed(p, 'credentials', rec.name, lookup));

  const timed = async <T>(op: 'create' | 'reset' | 'delete', fn: () => Promise<T>): Promise<T> => {
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

  app.get('/v1/branches', async (req) => {
    may(who(req), 'list', null);
    return { branches: manager.list().map((r) => toBranch(r, deps.publicHost, false)) };
  });

  app.post('/v1/branches', async (req, reply) => {
    req.auditAction = 'branch.create';
    const body = parse(createBranchBody, req.body, 'body');
    req.auditBranch = body.name;
    const p = who(req);
    may(p, 'create', { name: body.name, parent: body.parent ?? 'main' });
    const { record, created } = await timed('create', () => manager.create(body));
    reply.status(created ? 201 : 200);
    return { branch: view(record, p), created };
  });

  app.get('/v1/branches/:name', async (req) => {
    const { name } = parse(branchParams, req.params, 'branch name');
    may(who(req), 'list', null);
    const rec = manager.get(name);
    const b = view(rec, who(req));
    if (rec.standby) b.replication = await manager.replicationLag(rec);
    return b;
  });

  app.patch('/v1/branches/:name', async (req) => {
    req.auditAction = 'branch.update';
    const { name } = parse(branchParams, req.params, 'branch name');
    req.auditBranch = name;
    const body = parse(patchBranchBody, req.body, 'body');
    may(who(req), body.protected !== undefined ? 'protect' : 'patch', name);
    return view(await manager.patch(name, body), who(req));
  });

  app.delete('/v1/branches/:name', async (req) => {
    req.auditAction = 'branch.delete';
    const { name } = parse(branchParams, req.params, 'branch name');
    req.auditBranch = name;
    const q = parse(deleteQuery, req.query, 'query');
    const p = who(req);
    may(p, 'delete', name, q.force);
    if (q.cascade) for (const d of descendants(manager.list(), name)) may(p, 'delete', d, q.force);
    const deleted = await timed('delete', () => manager.delete(name, { cascade: q.cascade, force: q.force && isAdmin(p) }));
    return { deleted };
  });

  app.post('/v1/branches/:name/reset', async (req) => {
    req.auditAction = 'branch.reset';
    const { name } = parse(branchParams, req.params, 'branch name');
    req.auditBranch = name;
    const q = parse(resetQuery, req.query, 'query');
    parse(emptyBody, req.body, 'body');
    const p = who(req);
    may(p, 'reset', name, q.force);
    return view(await timed('reset', () => manager.reset(name, { force: q.force && isAdmin(p) })), p);
  });

  for (const action of ['stop', 'start'] as const) {
    app.post(`/v1/branches/:name/${action}`, async (req) => {
      req.auditAction = `branch.${action}`;
      const { name } = parse(branchParams, req.params, 'branch name');
      req.auditBranch = name;
      parse(emptyBody, req.body, 'body');
      may(who(req), action, name);
      return view(await manager[action](name), who(req));
    });
  }

  // (Re)build main: empty + seeds, a logical import or a streaming replica, built beside the old one.
  app.post('/v1/init', async (req, reply) => {
    req.auditAction = 'main.init';
    req.auditBranch = 'main';
    const body = parse(initBody, req.body, 'body');
    may(who(req), 'init', null);
    const spec =
      body.mode === 'empty'
        ? { mode: 'empty' as const, seeds: body.seeds ?? [] }
        : body.mode === 'logical'
          ? { mode: 'logical' as const, url: body.sourceUrl!, jobs: body.jobs }
          : { mode: 'physical' as const, url: body.sourceUrl! };
    const rec = await deps.builder.build(spec);
    reply.status(201);
    return { branch: view(rec, who(req)) };
  });

  app.get('/v1/init/progress', async (req) => {
    may(who(req), 'list', null);
    return deps.builder.progress;
  });

  app.post('/v1/branches/:name/refresh', async (req) => {
    req.auditAction = 'main.refresh';
    const { name } = parse(branchParams, req.params, 'branch name');
    req.auditBranch = name;
    parse(emptyBody, req.body, 'body');
    may(who(req), 'refresh', null);
    if (name !== 'main') throw badRequest('only main can be refreshed (other branches: reset)');
    return view(await deps.builder.refresh(), who(req));
  });

  // Rebase and diff arrive with their own issue; until then say so plainly.
  app.post('/v1/branches/:name/rebase', async (req, reply) => {
    req.auditAction = 'branch.rebase';
    const { name } = parse(branchParams, req.params, 'branch name');
    req.auditBranch = name;
    may(who(req), 'rebase', name);
    return reply
      .status(501)
      .send({ error: { code: 'not_implemented', message: 'rebase is not implemented yet; use reset to start again from the parent' } });
  });
  app.get('/v1/branches/:name/diff', async (req, reply) => {
    const { name } = parse(branchParams, req.params, 'branch name');
    may(who(req), 'diff', name);
    return reply.status(501).send({ error: { code: 'not_implemented', message: 'diff is not implemented yet' } });
  });
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
