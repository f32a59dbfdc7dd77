import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../app.ts';
import { canRead } from '../auth/principal.ts';
import { forbidden, notFound } from '../../core/errors.ts';
import { branchName } from '../../core/schemas.ts';
import { parse } from './validate.ts';
import { openApiDocument } from './openapi.ts';

const auditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    branch: branchName.optional(),
  })
  .strict();

export async function systemRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get('/healthz', async () => ({ ok: true, version: deps.version, storage: deps.manager.storage.kind }));

  app.get('/metrics', async (req, reply) => {
    if (!canRead(req.principal!)) throw forbidden('this token cannot read metrics');
    const byState: Record<string, number> = {};
    for (const r of deps.manager.list()) byState[r.state] = (byState[r.state] ?? 0) + 1;
    const pool = await deps.manager.storage.usage();
    reply.type('text/plain; version=0.0.4');
    return deps.metrics.render({ branchesByState: byState, pool });
  });

  // Public material, but only to callers the agent knows: clients use it for sslmode=verify-full.
  app.get('/v1/ca', async () => {
    if (!deps.caPem) throw notFound('this agent runs branch postgres without TLS');
    return { pem: deps.caPem };
  });

  app.get('/openapi.json', async () => openApiDocument(deps.version));

  app.get('/v1/audit', async (req) => {
    if (!canRead(req.principal!)) throw forbidden('this token cannot read the audit trail');
    const q = parse(auditQuery, req.query, 'query');
    return { records: await deps.audit.list({ limit: q.limit ?? 100, branch: q.branch }) };
  });
}
