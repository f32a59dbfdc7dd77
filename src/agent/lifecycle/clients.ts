import type { PostgresControl } from '../postgres/instance.ts';
import { AGENT_APPLICATION_NAME } from '../postgres/instance.ts';
import type { BranchRecord } from '../branches/registry.ts';
import { adminTarget } from '../provisioner/credentials.ts';

/**
 * Client backends of a running branch, over its unix socket: every connection but the agent's own
 * (they all set application_name 'vela-agent', this one included) and postgres' background workers.
 */
export async function clientCount(pg: PostgresControl, rec: BranchRecord): Promise<number> {
  return pg.withClient(adminTarget(rec), async (c) => {
    const r = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND application_name IS DISTINCT FROM $1`,
      [AGENT_APPLICATION_NAME],
    );
    return r.rows[0]?.n ?? 0;
  });
}
