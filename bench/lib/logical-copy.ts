import type pg from 'pg';
import { SUPERUSER } from '../../src/agent/postgres/instance.ts';
import { SOURCE_DB, TABLES, TABLE_DDL, INDEX_DDL } from './dataset.ts';
import { assertCopyHoldsData } from './template-ops.ts';
import { findNewestTool } from './pg-tools.ts';
import type { ClientTool } from './pg-tools.ts';
import { runPipe } from './pipe.ts';
import { timed } from './measure.ts';
import { progress } from './progress.ts';

/**
 * How to make a logical copy against this server. pg_dump refuses a server newer than itself,
 * so when no pg_dump of the server's major is installed the same data path is replayed by hand:
 * schema, then each table's COPY … TO STDOUT piped into COPY … FROM STDIN, then keys and indexes
 * (what pg_restore does, minus pg_dump's compression, so if anything it flatters the logical copy).
 */
export type LogicalPlan =
  { kind: 'pg_dump'; pgDump: ClientTool; pgRestore: ClientTool; label: string } | { kind: 'copy_pipe'; psql: ClientTool; label: string };

export async function planLogicalCopy(serverMajor: number): Promise<LogicalPlan> {
  const pgDump = await findNewestTool('pg_dump');
  const pgRestore = await findNewestTool('pg_restore');
  if (pgDump && pgRestore && pgDump.major >= serverMajor && pgRestore.major >= serverMajor) {
    return { kind: 'pg_dump', pgDump, pgRestore, label: `pg_dump -Fc | pg_restore (client ${pgDump.major})` };
  }
  const psql = await findNewestTool('psql');
  if (!psql) throw new Error('no psql and no pg_dump/pg_restore of PostgreSQL ' + serverMajor + ' found: install postgresql-client');
  const why = pgDump ? `pg_dump ${pgDump.major} cannot dump PG ${serverMajor}` : 'no pg_dump installed';
  return { kind: 'copy_pipe', psql, label: `logical copy: schema, COPY TO STDOUT → COPY FROM STDIN, indexes (psql ${psql.major}; ${why})` };
}

export interface LogicalTarget {
  socketDir: string;
  port: number;
}

export interface LogicalSamples {
  ms: number[];
  /** Bytes that went through the pipe in the first run. */
  streamedBytes: number;
}

export async function benchLogical(
  plan: LogicalPlan,
  admin: pg.Client,
  target: LogicalTarget,
  runs: number,
  expectedRows: Record<string, number>,
  openDb: (name: string) => Promise<pg.Client>,
): Promise<LogicalSamples> {
  const out: LogicalSamples = { ms: [], streamedBytes: 0 };
  for (let i = 1; i <= runs; i++) {
    const name = `logical_${i}`;
    await admin.query('CHECKPOINT');
    const t = await timed(() => logicalCopy(plan, admin, target, name, openDb));
    out.ms.push(t.ms);
    if (i === 1) {
      out.streamedBytes = t.value;
      await assertCopyHoldsData(openDb, name, expectedRows);
    }
    await admin.query(`DROP DATABASE ${name}`);
    progress(`  logical copy run ${i}/${runs}: ${Math.round(t.ms)} ms`);
  }
  return out;
}

/** One logical copy of SOURCE_DB into a new database `name`; returns the bytes streamed. */
async function logicalCopy(
  plan: LogicalPlan,
  admin: pg.Client,
  target: LogicalTarget,
  name: string,
  openDb: (name: string) => Promise<pg.Client>,
): Promise<number> {
  await admin.query(`CREATE DATABASE ${name}`);
  const conn = (db: string) => ['-h', target.socketDir, '-p', String(target.port), '-U', SUPERUSER, '-d', db];
  const env = { PATH: process.env.PATH, LANG: 'C.UTF-8', PGCONNECT_TIMEOUT: '10' };
  if (plan.kind === 'pg_dump') {
    const r = await runPipe([plan.pgDump.path, '-Fc', ...conn(SOURCE_DB)], [plan.pgRestore.path, '--exit-on-error', ...conn(name)], env);
    return r.bytes;
  }
  const psql = (db: string, sql: string) => [plan.psql.path, '-X', '-q', '-v', 'ON_ERROR_STOP=1', ...conn(db), '-c', sql];
  const dst = await openDb(name);
  try {
    for (const ddl of TABLE_DDL) await dst.query(ddl);
    let bytes = 0;
    for (const table of TABLES) {
      bytes += (await runPipe(psql(SOURCE_DB, `COPY ${table} TO STDOUT`), psql(name, `COPY ${table} FROM STDIN`), env)).bytes;
    }
    for (const ddl of INDEX_DDL) await dst.query(ddl);
    return bytes;
  } finally {
    await dst.end();
  }
}
