import type pg from 'pg';
import type { QualifiedName } from '../capture/change-log-types.ts';

/** How replay finds a table's rows: its key columns (primary key, else replica identity index). */
export interface TableShape {
  key: string[];
  columns: Set<string>;
}

/** `schema.table` with both parts quoted: the one way a logged name goes into SQL. */
export function quoteTable(c: pg.Client, t: QualifiedName): string {
  return `${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`;
}

/** `schema.table` as people read it (conflict reports). */
export function tableLabel(t: QualifiedName): string {
  return `${t.schema}.${t.name}`;
}

const SHAPE = `
SELECT c.relreplident AS ident,
  ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  ARRAY(SELECT a.attname::text FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord) AS pk,
  ARRAY(SELECT a.attname::text FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisreplident ORDER BY k.ord) AS ri
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`;

/**
 * Key and columns of a table as the connected database has them now, or null when it has no such
 * table. A table without a primary key or replica identity index has `key: []`.
 */
export async function tableShape(c: pg.Client, t: QualifiedName): Promise<TableShape | null> {
  const r = await c.query<{ ident: string; columns: string[]; pk: string[]; ri: string[] }>(SHAPE, [t.schema, t.name]);
  const row = r.rows[0];
  if (!row) return null;
  const key = row.ident === 'i' && row.ri.length ? row.ri : row.pk;
  return { key, columns: new Set(row.columns) };
}

/** Tables of `wanted` that exist in the connected database without a key (replay could not find their rows). */
export async function keylessTables(c: pg.Client, wanted: QualifiedName[]): Promise<QualifiedName[]> {
  const out: QualifiedName[] = [];
  for (const t of wanted) {
    const shape = await tableShape(c, t);
    if (shape && shape.key.length === 0) out.push(t);
  }
  return out;
}

/**
 * Logged type names resolved by the target database itself (`format_type(to_regtype(…))`), so
 * the cast written into SQL is PostgreSQL's own spelling, never the logged text. Null: unknown
 * there, and the value goes as an untyped parameter the column's type decides.
 */
export class TypeCasts {
  private readonly known = new Map<string, string | null>();

  async cast(c: pg.Client, logged: string): Promise<string | null> {
    if (this.known.has(logged)) return this.known.get(logged)!;
    const r = await c.query<{ t: string | null }>('SELECT format_type(to_regtype($1), NULL) AS t', [logged]);
    const t = r.rows[0]?.t ?? null;
    this.known.set(logged, t);
    return t;
  }

  /** Forgets everything: a DDL may have created or dropped a type. */
  clear(): void {
    this.known.clear();
  }
}

/** The current row of a table by key, every column in text form (what a conflict shows), or null. */
export async function currentRow(
  c: pg.Client,
  t: QualifiedName,
  key: Array<{ name: string; value: string | null; cast: string | null }>,
): Promise<Record<string, string | null> | null> {
  const where = key.map((k, i) => `${c.escapeIdentifier(k.name)} = $${i + 1}${k.cast ? `::${k.cast}` : ''}`);
  const r = await c.query<{ row: Record<string, string | null> }>(
    `SELECT (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each_text(to_jsonb(x)) e) AS row
       FROM ${quoteTable(c, t)} x WHERE ${where.join(' AND ')} LIMIT 1`,
    key.map((k) => k.value),
  );
  return r.rows[0]?.row ?? null;
}
