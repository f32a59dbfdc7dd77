import type { ServerDeps } from '../deps.ts';
import { notFound } from '../../../core/errors.ts';
import { openApiDocument } from '../../../core/api/openapi.ts';
import type { RouteHandlers } from '../register.ts';
import { branchAccess } from '../access.ts';

export function systemRoutes(
  deps: ServerDeps,
): RouteHandlers<'getHealth' | 'getMetrics' | 'getOpenApi' | 'getCa' | 'listAudit' | 'getDoctor'> {
  const { may } = branchAccess(deps);
  return {
    getHealth: {
      handle: async () => ({ ok: true, version: deps.version, storage: deps.manager.storage.kind }),
    },

    getMetrics: {
      handle: async ({ reply, principal }) => {
        may(principal, 'list', null);
        const byState: Record<string, number> = {};
        for (const r of deps.manager.list()) byState[r.state] = (byState[r.state] ?? 0) + 1;
        const pool = await deps.manager.storage.usage();
        reply.type('text/plain; version=0.0.4');
        return deps.metrics.render({
          branchesByState: byState,
          pool,
          lifecycle: deps.lifecycle?.stats(),
          proxy: deps.proxyStats?.(),
          captureLag: deps.captureLag?.(),
          // A scrape must not fail on sysfs: no commit series rather than no metrics.
          commits: await deps.manager.storage.commitStats?.().catch(() => null),
          trashed: (await deps.manager.storage.trashed?.().catch(() => null))?.length ?? null,
        });
      },
    },

    getCa: {
      handle: async () => {
        if (!deps.caPem) throw notFound('this agent runs branch postgres without TLS');
        return { pem: deps.caPem };
      },
    },

    getOpenApi: {
      handle: async () => openApiDocument(deps.version),
    },

    getDoctor: {
      handle: async ({ principal }) => {
        may(principal, 'doctor', null);
        return deps.doctor ? deps.doctor() : { ok: true, records: [], unclaimed: [], volumes: [] };
      },
    },

    listAudit: {
      handle: async ({ principal, query }) => {
        may(principal, 'list', null);
        return { records: await deps.audit.list({ limit: query.limit ?? 100, branch: query.branch }) };
      },
    },
  };
}
