import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { CapturedTransaction, Change, ColumnValue, QualifiedName } from '../capture/change-log-types.ts';
import type { RebaseConflict } from '../../core/api/index.ts';
import { currentRow, quoteTable, tableLabel, tableShape, TypeCasts } from './catalog.ts';
import type { TableShape } from './catalog.ts';
import { describeChange } from './statements.ts';
import { batchStatement, keyOfPlan, MAX_BATCH, signature } from './batch.ts';
import type { Bound, RowPlan } from './batch.ts';

type RowChange = Extract<Change, { kind: 'insert' | 'update' | 'delete' }>;
interface Planned {
  change: RowChange;
  shape: TableShape;
  plan: RowPlan;
}

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

const UNIQUE_VIOLATION = '23505';

/**
 * Applies a branch's change log to a database (the parent's current state), each logged transaction
 * in one transaction of its own. `c` is logged in as the branch's owner role, never a superuser:
 * nothing replayed (a DDL, a function an index or default calls) gets more rights than it had in the
 * branch. DDL runs as the logged role where the owner may become it, with the logged search_path;
 * rows are found by key, parameters cast to their logged types. session_replication_role=replica
 * (granted to the owner for the replay only): triggers and capture's event trigger stay quiet, since
 * what they did in the branch was logged too. The first conflict throws a ReplayConflict.
 */
export async function replay(
  c: pg.Client,
  log: AsyncIterable<CapturedTransaction>,
  opts: { afterTransaction?: (seq: number) => Promise<void> } = {},
): Promise<ReplayResult> {
  const r = new Replayer(c);
  await c.query(
    'SET session_replication_role = replica; SET search_path = pg_catalog; SET synchronous_commit = off; SET statement_timeout = 0',
  );
  const out: ReplayResult = { transactions: 0, changes: 0 };
  for await (const tx of log) {
    await r.transaction(tx);
    out.transactions++;
    out.changes += tx.changes.length;
    await opts.afterTransaction?.(tx.seq);
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
      // Consecutive row changes of one shape go in batches; everything else one by one, in order.
      let run: Planned[] = [];
      let runSig: string | null = null;
      const keys = new Set<string>();
      for (const change of tx.changes) {
        if (change.kind !== 'insert' && change.kind !== 'update' && change.kind !== 'delete') {
          await this.flush(run);
          run = [];
          await this.apply(change);
          continue;
        }
        const planned = await this.plan(change);
        const sig = signature(planned.plan);
        const key = keyOfPlan(planned.plan);
        if (run.length && (sig === null || sig !== runSig || keys.has(key) || run.length >= MAX_BATCH)) {
          await this.flush(run);
          run = [];
        }
        if (run.length === 0) keys.clear();
        run.push(planned);
        runSig = sig;
        keys.add(key);
      }
      await this.flush(run);
      await this.c.query('COMMIT');
    } catch (err) {
      await this.c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  private async apply(change: Exclude<Change, RowChange>): Promise<void> {
    switch (change.kind) {
      case 'ddl':
        return this.ddl(change);
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

  /**
   * A run of row changes: one statement under a savepoint when there are several; if it fails or
   * misses a row, back to the savepoint and row by row, which finds and names the first conflict.
   */
  private async flush(run: Planned[]): Promise<void> {
    if (run.length === 0) return;
    if (run.length > 1 && signature(run[0].plan) !== null) {
      const { text, values } = batchStatement(
        this.c,
        run.map((p) => p.plan),
      );
      await this.c.query('SAVEPOINT vela_batch');
      const matched = await this.prepared(text, values).then(
        (r) => r.rowCount ?? 0,
        () => -1,
      );
      if (matched === run.length) {
        await this.c.query('RELEASE SAVEPOINT vela_batch');
        return;
      }
      await this.c.query('ROLLBACK TO SAVEPOINT vela_batch');
    }
    for (const p of run) await this.row(p);
  }

  /** Resolves a row change against the target as it is now: key, casts, the old values still there. */
  private async plan(change: RowChange): Promise<Planned> {
    const shape = await this.shape(change, change.table);
    let cols: Bound[] = [];
    let key: Bound[];
    let same: Bound[] = [];
    if (change.kind === 'insert') {
      cols = await this.bind(change.row);
      key = this.pick(cols, shape.key);
    } else {
      if (change.kind === 'update') cols = await this.bind(change.row.filter((v) => !v.unchanged));
      key = await this.keyOf(shape, change.old, change.kind === 'update' ? change.row : null);
      same = await this.compared(shape, change.old);
    }
    return { change, shape, plan: { kind: change.kind, table: change.table, cols, key, same } };
  }

  /** One row change on its own; a conflict throws. */
  private async row({ change, shape, plan }: Planned): Promise<void> {
    const table = quoteTable(this.c, change.table);
    const id = (b: Bound) => this.c.escapeIdentifier(b.name);
    if (plan.kind === 'insert') return this.insert(change, shape, plan);
    if (plan.kind === 'update') {
      const first = this.c.escapeIdentifier(shape.key[0]);
      const assign = plan.cols.map((b, i) => `${id(b)} = ${this.param(b, i + 1)}`);
      const sql = `UPDATE ${table} SET ${assign.length ? assign.join(', ') : `${first} = ${first}`}
         WHERE ${this.where(plan.key, plan.same, plan.cols.length + 1)}`;
      return this.expectOne(change, shape, plan.key, sql, [...plan.cols, ...plan.key, ...plan.same]);
    }
    const sql = `DELETE FROM ${table} WHERE ${this.where(plan.key, plan.same, 1)}`;
    return this.expectOne(change, shape, plan.key, sql, [...plan.key, ...plan.same]);
  }

  private async ddl(change: Extract<Change, { kind: 'ddl' }>): Promise<void> {
    const switched = await this.setRole(change.role);
    await this.c.query("SELECT set_config('search_path', $1, true)", [change.searchPath]);
    try {
      await this.c.query(change.sql);
    } catch (err) {
      throw this.conflict('ddl_failed', change, null, null, null, (err as Error).message);
    }
    await this.c.query(`${switched ? 'RESET ROLE; ' : ''}SELECT set_config('search_path', 'pg_catalog', true)`);
    // The DDL may have changed keys, columns and types.
    this.shapes.clear();
    this.casts.clear();
  }

  /**
   * The logged role for a DDL when this session (the owner role) may become it and it is no
   * superuser; otherwise the DDL runs as the owner. True when the role was switched.
   */
  private async setRole(logged: string): Promise<boolean> {
    const r = await this.c.query<{ other: boolean }>(
      'SELECT rolname <> current_user AS other FROM pg_roles WHERE rolname = $1 AND NOT rolsuper',
      [logged],
    );
    if (!r.rows[0]?.other) return false;
    await this.c.query('SAVEPOINT vela_role');
    try {
      await this.c.query(`SET LOCAL ROLE ${this.c.escapeIdentifier(logged)}`);
      return true;
    } catch {
      await this.c.query('ROLLBACK TO SAVEPOINT vela_role');
      return false;
    }
  }

  private async insert(change: RowChange, shape: TableShape, plan: RowPlan): Promise<void> {
    const cols = plan.cols;
    const sql = `INSERT INTO ${quoteTable(this.c, change.table)} (${cols.map((b) => this.c.escapeIdentifier(b.name)).join(', ')})
       VALUES (${cols.map((b, i) => this.param(b, i + 1)).join(', ')})`;
    try {
      await this.prepared(
        sql,
        cols.map((b) => b.value),
      );
    } catch (err) {
      const e = err as { code?: string; message: string };
      if (e.code !== UNIQUE_VIOLATION) throw this.conflict('statement_failed', change, shape, plan.key, null, e.message);
      await this.c.query('ROLLBACK');
      const current = await currentRow(this.c, change.table, plan.key);
      throw this.conflict('insert_exists', change, shape, plan.key, current, `the parent already has this row: ${e.message}`);
    }
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
  private prepared(text: string, values: unknown[]): Promise<pg.QueryResult> {
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
