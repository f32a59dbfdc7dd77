import type pg from 'pg';
import type { QualifiedName } from '../capture/change-log-types.ts';
import { quoteTable, tableLabel } from './catalog.ts';

/** A value bound to a parameter, with the cast PostgreSQL named for its logged type. */
export interface Bound {
  name: string;
  value: string | null;
  cast: string | null;
}

/**
 * One logged row change, resolved against the target: `cols` the values an insert writes or an
 * update sets, `key` how the row is found, `same` the old values the row must still hold.
 */
export interface RowPlan {
  kind: 'insert' | 'update' | 'delete';
  table: QualifiedName;
  cols: Bound[];
  key: Bound[];
  same: Bound[];
}

export const MAX_BATCH = 1000;

/** Plans with equal signatures can go into one statement. Null: this one goes alone (a type PostgreSQL did not name). */
export function signature(p: RowPlan): string | null {
  const all = [...p.cols, ...p.key, ...p.same];
  if (all.some((b) => b.cast === null) || (p.kind === 'update' && p.cols.length === 0)) return null;
  const part = (bs: Bound[]) => bs.map((b) => `${b.name}:${b.cast}`).join(',');
  return `${p.kind}|${tableLabel(p.table)}|${part(p.cols)}|${part(p.key)}|${part(p.same)}`;
}

/** The key values of a plan, as one string (a batch never holds one row twice). */
export function keyOfPlan(p: RowPlan): string {
  return JSON.stringify(p.key.map((b) => b.value));
}

/**
 * One statement for many row changes of one shape: every column travels as one text[] parameter,
 * unnested WITH ORDINALITY and cast to its type, so values are never part of the SQL. Update and
 * delete return the ordinal of each row they matched: fewer than sent means a conflict in there.
 */
export function batchStatement(c: pg.Client, plans: RowPlan[]): { text: string; values: Array<Array<string | null>> } {
  const first = plans[0];
  const groups: Array<['c' | 'k' | 's', Bound[]]> = [
    ['c', first.cols],
    ['k', first.key],
    ['s', first.same],
  ];
  const aliases: string[] = [];
  const selects: string[] = [];
  const values: Array<Array<string | null>> = [];
  for (const [g, bounds] of groups) {
    bounds.forEach((b, i) => {
      const alias = `${g}${i}`;
      aliases.push(alias);
      // Old values compared through the type's text output, as the single-row statements do.
      selects.push(g === 's' ? `(x.${alias}::${b.cast})::text AS ${alias}` : `x.${alias}::${b.cast} AS ${alias}`);
      const field = g === 'c' ? 'cols' : g === 'k' ? 'key' : 'same';
      values.push(plans.map((p) => p[field][i].value));
    });
  }
  const params = aliases.map((_, j) => `$${j + 1}::text[]`).join(', ');
  const src = `(SELECT x.ord, ${selects.join(', ')} FROM unnest(${params}) WITH ORDINALITY AS x(${aliases.join(', ')}, ord))`;
  const table = quoteTable(c, first.table);
  const id = (n: string) => c.escapeIdentifier(n);
  const where = [
    ...first.key.map((b, i) => `t.${id(b.name)} = u.k${i}`),
    ...first.same.map((b, i) => `t.${id(b.name)}::text IS NOT DISTINCT FROM u.s${i}`),
  ].join(' AND ');
  let text: string;
  if (first.kind === 'insert') {
    text = `INSERT INTO ${table} (${first.cols.map((b) => id(b.name)).join(', ')}) SELECT ${first.cols.map((_, i) => `u.c${i}`).join(', ')} FROM ${src} u ORDER BY u.ord`;
  } else if (first.kind === 'update') {
    text = `UPDATE ${table} AS t SET ${first.cols.map((b, i) => `${id(b.name)} = u.c${i}`).join(', ')} FROM ${src} u WHERE ${where} RETURNING u.ord`;
  } else {
    text = `DELETE FROM ${table} AS t USING ${src} u WHERE ${where} RETURNING u.ord`;
  }
  return { text, values };
}
