import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { CapturedTransaction, Change, ColumnValue, QualifiedName } from '../capture/change-log-types.ts';
import type { RebaseConflict } from '../../core/api/index.ts';
import { OWNER_ROLE } from '../postgres/roles.ts';
import { currentRow, quoteTable, tableLabel, tableShape, TypeCasts } from './catalog.ts';
import type { TableShape } from './catalog.ts';
import { describeChange } from './statements.ts';

/** Where a replay stopped. */
export class ReplayConflict extends Error {
  readonly conflict: RebaseConflict;
  constructor(conflict: RebaseConflict) {
    super(`${conflict.kind}${conflict.table ? ` on ${conflict.table}` : ''}: ${conflict.message}`);
    this.name = 'ReplayConflict';
    this.conflict = conflict;
  }
}

export interface ReplayResult {
  transactions: number;
  changes: number;
}

/** A value bound to a parameter, with the cast PostgreSQL named for its logged type. */
interface Bound {
  name: string;
  value: string | null;
  cast: string | null;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Applies a branch's change log to a database (the parent's current state, superuser over the
 * socket), each logged transaction in one transaction of its own: DDL as the logged role (never a
 * superuser) with the logged search_path; rows by key with parameters cast to their logged types.
 * session_replication_role=replica: triggers (and capture's own event trigger) stay quiet, since
 * what they did in the branch was logged too. The first conflict throws a ReplayConflict.
 */
export async function replay(c: pg.Client, log: AsyncIterable<CapturedTransaction>): Promise<ReplayResult> {
  const r = new Replayer(c);
  await c.query(
    'SET session_replication_role = replica; SET search_path = pg_catalog; SET synchronous_commit = off; SET statement_timeout = 0',
  );
  const out: ReplayResult = { transactions: 0, changes: 0 };
  for await (const tx of log) {
    await r.transaction(tx);
    out.transactions++;
    out.changes += tx.changes.length;
  }
  return out;
}

class Replayer {
  private readonly c: pg.Client;
  private readonly casts = new TypeCasts();
  private readonly shapes = new Map<string, TableShape | null>();
  private seq = 0;

  constructor(c: pg.Client) {
    this.c = c;
  }

  async transaction(tx: CapturedTransaction): Promise<void> {
    this.seq = tx.seq;
    await this.c.query('BEGIN');
    try {
      for (const change of tx.changes) await this.apply(change);
      await this.c.query('COMMIT');
    } catch (err) {
      await this.c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  private async apply(change: Change): Promise<void> {
    switch (change.kind) {
      case 'ddl':
        return this.ddl(change);
      case 'insert':
        return this.insert(change);
      case 'update':
        return this.update(change);
      case 'delete':
        return this.delete(change);
      case 'truncate':
        return this.run(change, null, `TRUNCATE ${change.tables.map((t) => quoteTable(this.c, t)).join(', ')}`, []);
      case 'sequence':
        return this.run(
          change,
          null,
          `SELECT setval(s.r, greatest($3::bigint, coalesce(pg_sequence_last_value(s.r), $3::bigint)), true)
             FROM (SELECT format('%I.%I', $1::text, $2::text)::regclass AS r) s`,
          [change.sequence.schema, change.sequence.name, change.value],
        );
    }
  }

  private async ddl(change: Extract<Change, { kind: 'ddl' }>): Promise<void> {
    const role = await this.ddlRole(change.role);
    await this.c.query(`SET LOCAL ROLE ${this.c.escapeIdentifier(role)}`);
    await this.c.query("SELECT set_config('search_path', $1, true)", [change.searchPath]);
    try {
      await this.c.query(change.sql);
    } catch (err) {
      throw this.conflict('ddl_failed', change, null, null, null, (err as Error).message);
    }
    await this.c.query("RESET ROLE; SELECT set_config('search_path', 'pg_catalog', true)");
    // The DDL may have changed keys, columns and types.
    this.shapes.clear();
    this.casts.clear();
  }

  /** The logged role when it exists here and is no superuser; else the owner role. */
  private async ddlRole(logged: string): Promise<string> {
    const r = await this.c.query<{ ok: boolean }>('SELECT NOT rolsuper AS ok FROM pg_roles WHERE rolname = $1', [logged]);
    return r.rows[0]?.ok ? logged : OWNER_ROLE;
  }

  private async insert(change: Extract<Change, { kind: 'insert' }>): Promise<void> {
    const shape = await this.shape(change, change.table);
    const cols = await this.bind(change.row);
    const sql = `INSERT INTO ${quoteTable(this.c, change.table)} (${cols.map((b) => this.c.escapeIdentifier(b.name)).join(', ')})
       VALUES (${cols.map((b, i) => this.param(b, i + 1)).join(', ')})`;
    try {
      await this.prepared(
        sql,
        cols.map((b) => b.value),
      );
    } catch (err) {
      const key = this.pick(cols, shape.key);
      const e = err as { code?: string; message: string };
      if (e.code !== UNIQUE_VIOLATION) throw this.conflict('statement_failed', change, shape, key, null, e.message);
      await this.c.query('ROLLBACK');
      const current = await currentRow(this.c, change.table, key);
      throw this.conflict('insert_exists', change, shape, key, current, `the parent already has this row: ${e.message}`);
    }
  }

  private async update(change: Extract<Change, { kind: 'update' }>): Promise<void> {
    const shape = await this.shape(change, change.table);
    const set = await this.bind(change.row.filter((v) => !v.unchanged));
    const key = await this.keyOf(shape, change.old, change.row);
    const same = await this.compared(shape, change.old);
    const first = this.c.escapeIdentifier(shape.key[0]);
    const assign = set.map((b, i) => `${this.c.escapeIdentifier(b.name)} = ${this.param(b, i + 1)}`);
    const sql = `UPDATE ${quoteTable(this.c, change.table)} SET ${assign.length ? assign.join(', ') : `${first} = ${first}`}
       WHERE ${this.where(key, same, set.length + 1)}`;
    await this.expectOne(change, shape, key, sql, [...set, ...key, ...same]);
  }

  private async delete(change: Extract<Change, { kind: 'delete' }>): Promise<void> {
    const shape = await this.shape(change, change.table);
    const key = await this.keyOf(shape, change.old, null);
    const same = await this.compared(shape, change.old);
    const sql = `DELETE FROM ${quoteTable(this.c, change.table)} WHERE ${this.where(key, same, 1)}`;
    await this.expectOne(change, shape, key, sql, [...key, ...same]);
  }

  /** Runs an UPDATE or DELETE that must hit exactly the logged row; otherwise says why not. */
  private async expectOne(change: Change, shape: TableShape, key: Bound[], sql: string, params: Bound[]): Promise<void> {
    let count: number;
    try {
      count =
        (
          await this.prepared(
            sql,
            params.map((b) => b.value),
          )
        ).rowCount ?? 0;
    } catch (err) {
      throw this.conflict('statement_failed', change, shape, key, null, (err as Error).message);
    }
    if (count === 1) return;
    await this.c.query('ROLLBACK');
    const table = (change as { table: QualifiedName }).table;
    const current = await currentRow(this.c, table, key);
    const what = change.kind === 'update' ? 'updated' : 'deleted';
    throw current
      ? this.conflict('row_changed', change, shape, key, current, `the branch ${what} a row the parent changed since the fork`)
      : this.conflict('row_missing', change, shape, key, null, `the branch ${what} a row the parent no longer has`);
  }

  /** Key values from the old row (the key may have changed), else from the new one. */
  private async keyOf(shape: TableShape, old: ColumnValue[] | null, row: ColumnValue[] | null): Promise<Bound[]> {
    const values = shape.key.map((k) => old?.find((v) => v.name === k) ?? row?.find((v) => v.name === k));
    if (values.some((v) => v === undefined)) {
      throw new Error(`the change log has no value for every key column (${shape.key.join(', ')}) of a row`);
    }
    return this.bind(values as ColumnValue[]);
  }

  /** The old row's other columns (REPLICA IDENTITY FULL) that still exist: the row must still hold them. */
  private compared(shape: TableShape, old: ColumnValue[] | null): Promise<Bound[]> {
    return this.bind((old ?? []).filter((v) => !v.unchanged && !shape.key.includes(v.name) && shape.columns.has(v.name)));
  }

  private async shape(change: Change, table: QualifiedName): Promise<TableShape> {
    const id = tableLabel(table);
    if (!this.shapes.has(id)) this.shapes.set(id, await tableShape(this.c, table));
    const shape = this.shapes.get(id);
    if (!shape) throw this.conflict('statement_failed', change, null, [], null, `the parent has no table ${id}`);
    if (shape.key.length === 0) {
      throw this.conflict(
        'no_key',
        change,
        shape,
        [],
        null,
        `${id} has no primary key or replica identity index: its rows cannot be matched`,
      );
    }
    return shape;
  }

  private async bind(values: ColumnValue[]): Promise<Bound[]> {
    const out: Bound[] = [];
    for (const v of values) out.push({ name: v.name, value: v.value, cast: await this.casts.cast(this.c, v.type) });
    return out;
  }

  private pick(bound: Bound[], key: string[]): Bound[] {
    return key.map((k) => bound.find((b) => b.name === k)).filter((b): b is Bound => b !== undefined);
  }

  private param(b: Bound, i: number): string {
    return b.cast ? `$${i}::${b.cast}` : `$${i}`;
  }

  /**
   * Key columns by `=` (their unique index finds the row); the other logged columns through the
   * type's text output on both sides, which works for types without an equality operator.
   */
  private where(key: Bound[], same: Bound[], from: number): string {
    let i = from;
    const k = key.map((b) => `${this.c.escapeIdentifier(b.name)} = ${this.param(b, i++)}`);
    const s = same.map((b) => `${this.c.escapeIdentifier(b.name)}::text IS NOT DISTINCT FROM (${this.param(b, i++)})::text`);
    return [...k, ...s].join(' AND ');
  }

  private async run(change: Change, table: QualifiedName | null, sql: string, params: string[]): Promise<void> {
    try {
      await this.c.query(sql, params);
    } catch (err) {
      throw this.conflict('statement_failed', change, null, null, null, (err as Error).message, table);
    }
  }

  /** Named (prepared) statements: one parse per shape of change, not per row. */
  private prepared(text: string, values: Array<string | null>): Promise<pg.QueryResult> {
    const name = `vela_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    return this.c.query({ name, text, values });
  }

  private conflict(
    kind: RebaseConflict['kind'],
    change: Change,
    shape: TableShape | null,
    key: Bound[] | null,
    current: Record<string, string | null> | null,
    message: string,
    table: QualifiedName | null = null,
  ): ReplayConflict {
    const t = table ?? ('table' in change ? change.table : null);
    return new ReplayConflict({
      kind,
      table: t ? tableLabel(t) : change.kind === 'truncate' ? change.tables.map(tableLabel).join(', ') : null,
      key: key?.length ? Object.fromEntries(key.map((k) => [k.name, k.value])) : null,
      statement: describeChange(change, shape?.key ?? []),
      current,
      message: message.slice(0, 500),
      seq: this.seq,
    });
  }
}
