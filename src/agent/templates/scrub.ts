import type pg from 'pg';

/** What the scrub did, for the log and the README's cost figures. */
export interface ScrubReport {
  /** Bytes of the template database before and after the rewrite. */
  bytesBefore: number;
  bytesAfter: number;
  /** WAL segment files before the scrub and after it (the one fresh segment). */
  wal: { before: number; after: number };
  pgStatStatementsReset: boolean;
  ms: { rewrite: number; analyze: number; wal: number };
}

/** The scrub's hands outside SQL: WAL files are removed as the postgres OS user, never by root. */
export interface ScrubHost {
  removeWal(names: string[]): Promise<void>;
}

const SEGMENT = /^[0-9A-F]{24}$/;

/**
 * Settings for the session that runs masking SQL: nothing of it (statements, values in error
 * details) reaches the server log, whatever the cluster's own logging settings say.
 */
export async function quietSession(c: pg.Client): Promise<void> {
  await c.query(
    "SET log_statement = 'none'; SET log_min_duration_statement = -1; SET log_min_error_statement = 'panic'; SET log_error_verbosity = 'terse'; SET log_duration = off",
  );
}

/**
 * Before masking: what would keep old row versions alive past VACUUM FULL (prepared transactions,
 * replication slots inherited from the parent) and autovacuum workers whose snapshot predates the mask.
 */
export async function releaseHorizon(c: pg.Client, inDatabase: (db: string, fn: (c: pg.Client) => Promise<void>) => Promise<void>) {
  const prepared = await c.query<{ gid: string; database: string }>('SELECT gid, database FROM pg_prepared_xacts');
  for (const p of prepared.rows) {
    await inDatabase(p.database, (d) => d.query(`ROLLBACK PREPARED ${d.escapeLiteral(p.gid)}`).then(() => {}));
  }
  await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots');
}

/**
 * After the masking SQL committed: no byte of the values it replaced is left in the cluster.
 * - every table of the database is rewritten (VACUUM FULL: heap, TOAST, indexes, FSM and VM get new
 *   files; old files are truncated at commit and unlinked at the next checkpoint), catalogs included;
 * - statistics are rebuilt from masked rows, then pg_statistic is rewritten again so the replaced
 *   sample values are not left as dead tuples;
 * - pg_stat_statements (query texts) is reset where it is loaded;
 * - WAL written before now is removed: the insert position moves to a segment created fresh (every
 *   later segment file is deleted first, since a recycled one keeps old records in its tail), a
 *   checkpoint moves the redo point into it, and every other segment is deleted.
 */
export async function scrubDatabase(c: pg.Client, host: ScrubHost): Promise<ScrubReport> {
  await assertLogsOutside(c);
  const size = async () => Number((await c.query<{ b: string }>('SELECT pg_database_size(current_database()) AS b')).rows[0].b);
  const bytesBefore = await size();
  // Workers that started before the mask committed sample old values; new ones see masked rows.
  await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'");
  await assertNothingHoldsOldRows(c);
  let t = performance.now();
  await c.query('VACUUM (FULL)');
  const rewrite = performance.now() - t;
  t = performance.now();
  await c.query('ANALYZE');
  await c.query('VACUUM (FULL) pg_catalog.pg_statistic, pg_catalog.pg_statistic_ext_data');
  const analyze = performance.now() - t;
  const pgStatStatementsReset = await resetStatements(c);
  t = performance.now();
  const wal = await dropOldWal(c, host);
  return {
    bytesBefore,
    bytesAfter: await size(),
    wal,
    pgStatStatementsReset,
    ms: { rewrite: Math.round(rewrite), analyze: Math.round(analyze), wal: Math.round(performance.now() - t) },
  };
}

/**
 * A replication slot, or another session with a snapshot, made before the mask committed would keep
 * the replaced row versions alive through VACUUM FULL (copied as "recently dead"): refuse to scrub then.
 */
async function assertNothingHoldsOldRows(c: pg.Client): Promise<void> {
  const r = await c.query<{ slots: string; sessions: string }>(
    `SELECT (SELECT count(*) FROM pg_replication_slots) AS slots,
            (SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
               AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)) AS sessions`,
  );
  const { slots, sessions } = r.rows[0];
  if (Number(slots) > 0 || Number(sessions) > 0) {
    throw new Error(`${slots} replication slot(s) and ${sessions} other session(s) with an open snapshot would keep unmasked rows`);
  }
}

/** Server logs must not land in the data directory (vela.conf turns the collector off; check it stayed off). */
async function assertLogsOutside(c: pg.Client): Promise<void> {
  const r = await c.query<{ collector: string; dir: string }>(
    "SELECT current_setting('logging_collector') AS collector, current_setting('log_directory') AS dir",
  );
  const { collector, dir } = r.rows[0];
  if (collector === 'on' && !dir.startsWith('/')) {
    throw new Error(`logging_collector is on with log_directory '${dir}' inside the data directory: turn it off for this cluster`);
  }
}

/** Resets pg_stat_statements (its query texts live in pg_stat_tmp) when the library is loaded. */
async function resetStatements(c: pg.Client): Promise<boolean> {
  const libs = (await c.query<{ l: string }>("SELECT current_setting('shared_preload_libraries') AS l")).rows[0].l;
  if (!/\bpg_stat_statements\b/.test(libs)) return false;
  const had = (await c.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).rowCount;
  if (!had) await c.query('CREATE EXTENSION pg_stat_statements');
  await c.query('SELECT pg_stat_statements_reset()');
  if (!had) await c.query('DROP EXTENSION pg_stat_statements');
  return true;
}

async function currentSegment(c: pg.Client): Promise<string> {
  // A record first, so the insert position is past the page header of a segment just switched to.
  await c.query("SELECT pg_logical_emit_message(false, 'vela-scrub', '')");
  return (await c.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS f')).rows[0].f;
}

async function walFiles(c: pg.Client): Promise<string[]> {
  return (await c.query<{ name: string }>('SELECT name FROM pg_ls_waldir() ORDER BY name')).rows.map((r) => r.name);
}

/** Segment order within one segment size: the 16 hex digits after the timeline. */
const segPart = (name: string) => name.slice(8, 24);

async function dropOldWal(c: pg.Client, host: ScrubHost): Promise<{ before: number; after: number }> {
  const before = (await walFiles(c)).filter((f) => SEGMENT.test(f)).length;
  await c.query('SELECT pg_switch_wal()');
  const first = await currentSegment(c);
  // Files past the current segment are recycled or preallocated: the next one must be created anew.
  const later = (await walFiles(c)).filter((f) => SEGMENT.test(f) && segPart(f) > segPart(first));
  await host.removeWal(later);
  await c.query('SELECT pg_switch_wal()');
  const fresh = await currentSegment(c);
  if (segPart(fresh) <= segPart(first)) throw new Error(`WAL did not move past segment ${first}`);
  await c.query('CHECKPOINT');
  // The redo point is in `fresh`: nothing else is needed for crash recovery of this cluster or its branches.
  const rest = (await walFiles(c)).filter((f) => f !== fresh && (SEGMENT.test(f) || f.endsWith('.partial') || f.endsWith('.backup')));
  await host.removeWal(rest);
  const left = (await walFiles(c)).filter((f) => f !== fresh && !f.endsWith('.history'));
  if (left.length) throw new Error(`old WAL could not be removed: ${left.join(', ')}`);
  return { before, after: (await walFiles(c)).filter((f) => SEGMENT.test(f)).length };
}
