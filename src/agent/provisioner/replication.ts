import type { PostgresControl } from '../postgres/instance.ts';
import type { BranchRecord } from '../branches/registry.ts';
import { adminTarget } from './credentials.ts';

export interface ReplicationLag {
  lagBytes: number | null;
  lagSeconds: number | null;
}

/** How far a standby `main` trails its source: WAL received but not replayed, and age of the last replayed commit. */
export async function replicationLag(pg: PostgresControl, rec: BranchRecord): Promise<ReplicationLag | null> {
  if (!rec.standby || rec.state !== 'ready') return null;
  return pg
    .withClient(adminTarget(rec), async (c) => {
      const r = await c.query<{ b: string | null; s: string | null }>(
        'SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS b, EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()) AS s',
      );
      const row = r.rows[0];
      return { lagBytes: row.b === null ? null : Number(row.b), lagSeconds: row.s === null ? null : Math.max(0, Number(row.s)) };
    })
    .catch(() => ({ lagBytes: null, lagSeconds: null }));
}
