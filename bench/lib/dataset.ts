import type pg from 'pg';
import { progress } from './progress.ts';

/** The generated parent lives in its own database, so `postgres` stays free for CREATE DATABASE … TEMPLATE. */
export const SOURCE_DB = 'benchsrc';

/** Tables without keys or indexes: what a logical restore creates before it loads the rows. */
export const TABLE_DDL = [
  `CREATE TABLE accounts (
     id bigint NOT NULL, email text NOT NULL, name text NOT NULL, plan text NOT NULL,
     balance_cents bigint NOT NULL, created_at timestamptz NOT NULL)`,
  `CREATE TABLE events (
     id bigint NOT NULL, account_id bigint NOT NULL, kind smallint NOT NULL,
     created_at timestamptz NOT NULL, amount_cents bigint, payload text NOT NULL)`,
];

/** Keys and indexes: what a logical restore builds after the rows are in. */
export const INDEX_DDL = [
  'ALTER TABLE accounts ADD PRIMARY KEY (id)',
  'CREATE UNIQUE INDEX accounts_email ON accounts (email)',
  'ALTER TABLE events ADD PRIMARY KEY (id)',
  'CREATE INDEX events_account_time ON events (account_id, created_at)',
];

export const TABLES = ['accounts', 'events'] as const;

/** 20 events per account; ids ascend so index inserts append (a fast, realistic bulk load). */
const EVENTS_PER_ACCOUNT = 20;
const MAX_CHUNK_ROWS = 100_000; // chunks are multiples of EVENTS_PER_ACCOUNT: each brings its own accounts
const FIRST_CHUNK_ROWS = 20_000;

const INSERT_EVENTS = `
  INSERT INTO events
  SELECT g, (g - 1) / ${EVENTS_PER_ACCOUNT} + 1, (g % 7)::smallint,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
         CASE WHEN g % 5 = 0 THEN NULL ELSE (g * 37) % 100000 END,
         md5(g::text) || md5((g + 1)::text) || md5((g * 7)::text)
  FROM generate_series($1::bigint, $2::bigint) AS g`;

const INSERT_ACCOUNTS = `
  INSERT INTO accounts
  SELECT a, 'user' || a || '@example.com', 'Name ' || md5(a::text),
         (ARRAY['free', 'team', 'pro'])[a % 3 + 1], (a * 13) % 1000000,
         timestamptz '2023-01-01 00:00:00+00' + a * interval '1 minute'
  FROM generate_series($1::bigint, $2::bigint) AS a`;

export interface Generated {
  events: number;
  accounts: number;
  databaseBytes: number;
  ms: number;
}

/**
 * Fills SOURCE_DB (which must exist and be empty) until pg_database_size reaches the target.
 * Indexes exist during the load, so the size measured is the size a parent really has.
 */
export async function generate(db: pg.Client, targetBytes: number): Promise<Generated> {
  const started = performance.now();
  for (const ddl of [...TABLE_DDL, ...INDEX_DDL]) await db.query(ddl);
  let events = 0;
  let size = await databaseSize(db);
  const emptySize = size;
  let nextReport = 0.1;
  while (size < targetBytes) {
    // Size the next chunk from the bytes per row so far, so the parent lands close to the target.
    const perRow = events ? (size - emptySize) / events : 0;
    const wanted = perRow ? Math.ceil((targetBytes - size) / perRow) : FIRST_CHUNK_ROWS;
    const rows = Math.min(MAX_CHUNK_ROWS, Math.ceil(wanted / EVENTS_PER_ACCOUNT) * EVENTS_PER_ACCOUNT);
    const lo = events + 1;
    const hi = events + rows;
    await db.query('BEGIN');
    await db.query(INSERT_ACCOUNTS, [(lo - 1) / EVENTS_PER_ACCOUNT + 1, hi / EVENTS_PER_ACCOUNT]);
    await db.query(INSERT_EVENTS, [lo, hi]);
    await db.query('COMMIT');
    events = hi;
    size = await databaseSize(db);
    if (size >= nextReport * targetBytes) {
      progress(`  generated ${Math.round(size / 1e6)} of ${Math.round(targetBytes / 1e6)} MB (${events.toLocaleString('en')} events)`);
      while (nextReport * targetBytes <= size) nextReport += 0.1;
    }
  }
  // Vacuum now so autovacuum has nothing left to do while the timings run; analyze like a real parent.
  progress('  VACUUM (ANALYZE) and CHECKPOINT');
  await db.query('VACUUM (ANALYZE)');
  await db.query('CHECKPOINT');
  return { events, accounts: events / EVENTS_PER_ACCOUNT, databaseBytes: await databaseSize(db), ms: performance.now() - started };
}

export async function databaseSize(db: pg.Client, name = SOURCE_DB): Promise<number> {
  const r = await db.query<{ bytes: string }>('SELECT pg_database_size($1) AS bytes', [name]);
  return Number(r.rows[0].bytes);
}

/** Row counts, to prove a copy holds what its source holds. */
export async function rowCounts(db: pg.Client): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`);
    out[t] = Number(r.rows[0].n);
  }
  return out;
}
