import type pg from 'pg';
import type { ChangeLogStore } from './change-log.ts';
import { tableKey } from './change-log.ts';
import { assemble } from './assemble.ts';
import type { DecodedRow } from './assemble.ts';
import { SNAPSHOT_SEQUENCES } from './install.ts';
import { lsnBigint, lsnText } from './lsn.ts';

/** Rows asked of the slot per round (decoding returns whole transactions, so a round may hold more). */
export const DRAIN_BATCH = 10_000;

export interface DrainResult {
  transactions: number;
  /** WAL the slot still holds back after this drain. */
  lagBytes: number;
}

/** The slot is gone or invalidated: changes were lost and the log can no longer be trusted. */
export class CaptureLostError extends Error {}

/**
 * Moves everything committed in the branch into its change log: records sequence positions, then
 * peeks at the slot, appends and fsyncs whole transactions, and only then advances the slot. A
 * crash between the two re-reads transactions the log already holds; the store skips them by
 * commit LSN. The caller holds the branch's capture lock.
 */
export async function drainSlot(
  c: pg.Client,
  p: { store: ChangeLogStore; branch: string; slot: string; batch?: number },
): Promise<DrainResult> {
  const batch = p.batch ?? DRAIN_BATCH;
  await c.query(SNAPSHOT_SEQUENCES);
  let transactions = 0;
  for (;;) {
    const state = await c.query<{ now: string; confirmed: string; lost: boolean }>(
      `SELECT pg_catalog.pg_current_wal_lsn()::text AS now, confirmed_flush_lsn::text AS confirmed,
              coalesce(wal_status = 'lost', false) AS lost
         FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
      [p.slot],
    );
    const slot = state.rows[0];
    if (!slot) throw new CaptureLostError(`the branch's capture slot ${p.slot} is gone`);
    if (slot.lost) throw new CaptureLostError(`the branch's capture slot ${p.slot} was invalidated (WAL it needed was removed)`);
    const rows = (
      await c.query<DecodedRow>(
        `SELECT lsn::text AS lsn, xid::text AS xid, data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, $2,
           'include-xids', '1', 'skip-empty-xacts', '1')`,
        [p.slot, batch],
      )
    ).rows;
    const txs = assemble(rows);
    transactions += await p.store.append(p.branch, txs);
    await learnKeys(c, p.store, p.branch, txs);
    const lastCommit = rows.reduce((m, r) => (r.data.startsWith('COMMIT') ? maxLsn(m, lsnBigint(r.lsn)) : m), 0n);
    const complete = rows.length < batch;
    // A round that read to the end of WAL may confirm up to where WAL was when it began.
    const target = complete ? maxLsn(lastCommit, lsnBigint(slot.now)) : lastCommit;
    if (target > lsnBigint(slot.confirmed)) {
      await c.query('SELECT pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)', [p.slot, lsnText(target)]);
    }
    if (complete) break;
  }
  const lag = await c.query<{ lag: string | null }>(
    `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag
       FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
    [p.slot],
  );
  return { transactions, lagBytes: Number(lag.rows[0]?.lag ?? 0) };
}

function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Primary key columns of the tables these transactions touched (the data diff's sample keys). */
async function learnKeys(c: pg.Client, store: ChangeLogStore, branch: string, txs: ReturnType<typeof assemble>): Promise<void> {
  const tables = new Map<string, { schema: string; name: string }>();
  for (const tx of txs)
    for (const ch of tx.changes) {
      if (ch.kind === 'insert' || ch.kind === 'update' || ch.kind === 'delete') tables.set(tableKey(ch.table), ch.table);
    }
  if (!tables.size) return;
  const list = [...tables.values()];
  const r = await c.query<{ schema: string; name: string; cols: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS name, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE i.indisprimary AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      GROUP BY 1, 2`,
    [list.map((t) => t.schema), list.map((t) => t.name)],
  );
  await store.learnKeys(branch, new Map(r.rows.map((x) => [`${x.schema}.${x.name}`, x.cols])));
}
