import type pg from 'pg';
import { randomBytes } from 'node:crypto';
import { CAPTURE_SCHEMA, SLOT_PREFIX, VERSION_COMMENT, installSql } from './install-sql.ts';

/** The decoding plugin: contrib's test_decoding (text rows; no publication object in the catalog). */
export const PLUGIN = 'test_decoding';

/** Sequence positions into the log table: rows come out of decoding as `sequence` changes. */
export const SNAPSHOT_SEQUENCES = `
INSERT INTO _vela.seq_state AS s (seq_schema, seq_name, value)
SELECT schemaname, sequencename, last_value FROM pg_catalog.pg_sequences
 WHERE last_value IS NOT NULL AND schemaname <> '${CAPTURE_SCHEMA}' AND schemaname !~ '^pg_temp'
ON CONFLICT (seq_schema, seq_name) DO UPDATE SET value = EXCLUDED.value
 WHERE s.value IS DISTINCT FROM EXCLUDED.value`;

/**
 * Tables whose UPDATE and DELETE would log only their key get REPLICA IDENTITY FULL (the whole old
 * row: a rebase checks that the parent's row is still the one the branch changed). Tables of
 * extensions and ones whose owner chose an identity (USING INDEX, NOTHING) are left as they are.
 */
const FULL_IDENTITY = `
DO $full$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT c.oid::regclass FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND c.relreplident = 'd'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${CAPTURE_SCHEMA}') AND n.nspname !~ '^pg_(toast|temp)'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', t);
  END LOOP;
END
$full$`;

/** The objects of installSql(), unless this version of them is already there (a branch of a branch). */
export function ensureObjects(superuser: string): string {
  return `
DO $ensure$
BEGIN
  IF (SELECT d.description FROM pg_catalog.pg_description d JOIN pg_catalog.pg_namespace n ON n.oid = d.objoid
       WHERE d.classoid = 'pg_catalog.pg_namespace'::regclass AND n.nspname = '${CAPTURE_SCHEMA}') IS DISTINCT FROM '${VERSION_COMMENT}' THEN
    EXECUTE $install$${installSql(superuser)}$install$;
  END IF;
END
$ensure$`;
}

/**
 * A fresh slot name per install: a snapshot carries its parent's slots, and a re-run install (after
 * a crash) must tell the slot it made from one it inherited.
 */
export function newSlotName(): string {
  return `${SLOT_PREFIX}${randomBytes(6).toString('hex')}`;
}

/** Whether the connected database has this slot. */
export async function hasSlot(c: pg.Client, slot: string): Promise<boolean> {
  return ((await c.query('SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot])).rowCount ?? 0) > 0;
}

export interface Installed {
  /** The slot's starting point: this branch's fork in its own WAL. */
  forkLsn: string;
  /** The reserved schema's objects came with the snapshot (the parent has them). */
  inherited: boolean;
}

/**
 * The objects alone, without a slot, in a parent that does not capture (the root `main`): dormant
 * there (the event trigger does nothing without a branch slot), inherited by every branch made from
 * it afterwards, which then only adds its slot. A rebuilt `main` gets them again at the next create.
 */
export async function installDormant(c: pg.Client, opts: { superuser: string }): Promise<void> {
  await c.query(["SET vela.capture = 'off'", 'SET synchronous_commit = off', ensureObjects(opts.superuser)].join(';\n'));
}

/**
 * Installs capture in the connected database (superuser session), in one round trip: drops slots
 * copied from the parent, puts the reserved schema, log tables and event triggers in place, gives
 * tables REPLICA IDENTITY FULL, records the fork's sequence positions, commits, then creates the
 * branch's slot last, so nothing of the setup comes out of it. The setup commits without waiting
 * for its WAL flush: creating the slot flushes WAL up to its own start, which lies after it.
 */
export async function installCapture(c: pg.Client, opts: { superuser: string; slot: string }): Promise<Installed> {
  const results = (await c.query(
    [
      // Our own DDL here is not the branch's (the event trigger skips superuser sessions that say so).
      "SET vela.capture = 'off'",
      'SET synchronous_commit = off',
      'BEGIN',
      // Whether the objects were there already (inherited): if not, the parent is given them for next time.
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_description d JOIN pg_catalog.pg_namespace n ON n.oid = d.objoid
         WHERE d.classoid = 'pg_catalog.pg_namespace'::regclass AND n.nspname = '${CAPTURE_SCHEMA}' AND d.description = '${VERSION_COMMENT}') AS inherited`,
      // A snapshot of a running parent copies its slots (pg_replslot): none of them is this branch's.
      'SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots',
      ensureObjects(opts.superuser),
      FULL_IDENTITY,
      // The parent's positions become this branch's starting point (not decoded: no slot yet).
      SNAPSHOT_SEQUENCES,
      'COMMIT',
      `SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot(${c.escapeLiteral(opts.slot)}, '${PLUGIN}')`,
    ].join(';\n'),
  )) as unknown as Array<pg.QueryResult<{ lsn: string; inherited: boolean }>>;
  return { forkLsn: results[results.length - 1].rows[0].lsn, inherited: results[3].rows[0].inherited };
}
