import { diffObjectNoun } from '../../core/api/responses.ts';
import type { DiffObjectKind } from '../../core/api/responses.ts';
import type { Catalog, CatalogObject, Column } from './catalog.ts';

export interface SchemaDiff {
  /** Statements that turn `from` into `to`, in an order PostgreSQL accepts; each ends with `;`. */
  statements: string[];
  summary: string[];
  objects: Partial<Record<DiffObjectKind, { added: string[]; dropped: string[]; changed: string[] }>>;
}

interface Delta<T extends CatalogObject> {
  added: T[];
  dropped: T[];
  changed: { from: T; to: T }[];
}

function delta<T extends CatalogObject>(from: T[], to: T[]): Delta<T> {
  const old = new Map(from.map((o) => [o.key, o]));
  const now = new Map(to.map((o) => [o.key, o]));
  const byOrder = (a: T, b: T) => a.order - b.order;
  return {
    added: to.filter((o) => !old.has(o.key)).sort(byOrder),
    dropped: from.filter((o) => !now.has(o.key)).sort((a, b) => b.order - a.order),
    changed: to
      .filter((o) => old.has(o.key) && old.get(o.key)!.def !== o.def)
      .sort(byOrder)
      .map((o) => ({ from: old.get(o.key)!, to: o })),
  };
}

/**
 * The migration from `from` (the parent) to `to` (the branch). Objects are compared by identity
 * and by the definition PostgreSQL renders for them; changed objects are altered in place where
 * PostgreSQL can (columns, enums, functions, views), else dropped and created again.
 */
export function diffCatalogs(from: Catalog, to: Catalog): SchemaDiff {
  const d = {
    schemas: delta(from.schemas, to.schemas),
    extensions: delta(from.extensions, to.extensions),
    types: delta(from.types, to.types),
    sequences: delta(from.sequences, to.sequences),
    tables: delta(from.tables, to.tables),
    columns: delta(from.columns, to.columns),
    constraints: delta(from.constraints, to.constraints),
    indexes: delta(from.indexes, to.indexes),
    views: delta(from.views, to.views),
    functions: delta(from.functions, to.functions),
    triggers: delta(from.triggers, to.triggers),
    policies: delta(from.policies, to.policies),
  };
  const droppedTables = new Set(d.tables.dropped.map((t) => t.key));
  const addedTables = new Set(d.tables.added.map((t) => t.key));
  // A new table's columns are part of it; a dropped table's columns, constraints and triggers go with it.
  d.columns.added = d.columns.added.filter((c) => !addedTables.has(c.table));
  d.columns.dropped = d.columns.dropped.filter((c) => !droppedTables.has(c.table));
  d.constraints.dropped = d.constraints.dropped.filter((c) => !droppedTables.has(c.table));
  d.triggers.dropped = d.triggers.dropped.filter((c) => !droppedTables.has(c.table));
  d.policies.dropped = d.policies.dropped.filter((c) => !droppedTables.has(c.table));
  // What goes with a dropped table, or comes inside a new table's CREATE, needs no statement of its own.
  const ofDropped = <T extends { table: string }>(xs: T[]) => xs.filter((x) => !droppedTables.has(x.table));
  const out: string[] = [];
  const add = (sql: string) => out.push(sql.trimEnd().endsWith(';') ? sql.trimEnd() : `${sql.trimEnd()};`);

  if (d.functions.added.length + d.functions.changed.length > 0) add('SET check_function_bodies = false');

  // Drops, dependents first.
  for (const p of [...d.policies.dropped, ...d.policies.changed.map((c) => c.from)]) add(`DROP POLICY ${q(p.name)} ON ${p.table}`);
  for (const t of [...ofDropped(d.triggers.dropped), ...ofDropped(d.triggers.changed.map((c) => c.from))])
    add(`DROP TRIGGER ${q(t.name)} ON ${t.table}`);
  // CREATE OR REPLACE VIEW keeps the old columns and may only append: anything else is dropped and created.
  const appendsOnly = (a: string[], b: string[]) => a.every((col, i) => b[i] === col);
  const viewsRecreated = d.views.changed
    .filter((c) => c.to.materialized || c.from.materialized !== c.to.materialized || !appendsOnly(c.from.columns, c.to.columns))
    .map((c) => c.from);
  for (const v of [...d.views.dropped, ...viewsRecreated]) add(`DROP ${v.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${v.key}`);
  const constraintsGone = [...ofDropped(d.constraints.dropped), ...ofDropped(d.constraints.changed.map((c) => c.from))];
  for (const k of [...constraintsGone.filter((k) => k.foreign), ...constraintsGone.filter((k) => !k.foreign)])
    add(`ALTER TABLE ${k.table} DROP CONSTRAINT ${q(k.name)}`);
  for (const i of [...d.indexes.dropped, ...d.indexes.changed.map((c) => c.from)]) add(`DROP INDEX IF EXISTS ${i.key}`);
  for (const f of d.functions.dropped) add(`DROP ${f.kind} ${f.key}`);
  for (const c of ofDropped(d.columns.dropped)) add(`ALTER TABLE ${c.table} DROP COLUMN ${q(c.name)}`);
  for (const t of d.tables.dropped) add(`DROP TABLE IF EXISTS ${t.key}`);
  for (const s of d.sequences.dropped) add(`DROP SEQUENCE IF EXISTS ${s.key}`);
  for (const t of d.types.dropped) add(`DROP TYPE ${t.key}`);
  for (const s of d.schemas.dropped) add(`DROP SCHEMA ${s.key}`);
  for (const e of d.extensions.dropped) add(`DROP EXTENSION ${e.key}`);

  // Creates, what others depend on first.
  for (const s of d.schemas.added) add(`CREATE SCHEMA ${s.key}`);
  for (const e of d.extensions.added) add(`CREATE EXTENSION IF NOT EXISTS ${e.key} WITH SCHEMA ${q(e.def)}`);
  for (const e of d.extensions.changed) add(`ALTER EXTENSION ${e.to.key} SET SCHEMA ${q(e.to.def)}`);
  for (const t of d.types.added)
    add(t.domain !== null ? `CREATE DOMAIN ${t.key} ${t.domain}` : `CREATE TYPE ${t.key} AS ENUM (${t.labels.map(lit).join(', ')})`);
  for (const { from: a, to: b } of d.types.changed) {
    if (a.domain !== null || b.domain !== null) {
      out.push(`-- domain ${b.key}: definition changed (${b.domain ?? 'now an enum'}); alter it by hand`);
      continue;
    }
    // Enums only grow in place; a removed or reordered label needs the type rebuilt by hand.
    if (b.labels.filter((l) => a.labels.includes(l)).join('\n') !== a.labels.join('\n'))
      out.push(`-- type ${b.key}: labels removed or reordered (${b.labels.join(', ')}); rebuild it by hand`);
    b.labels.forEach((l, i) => {
      if (!a.labels.includes(l))
        add(`ALTER TYPE ${b.key} ADD VALUE IF NOT EXISTS ${lit(l)}${i > 0 ? ` AFTER ${lit(b.labels[i - 1])}` : ''}`);
    });
  }
  for (const s of d.sequences.added) add(s.create);
  for (const { to: s } of d.sequences.changed) add(`ALTER SEQUENCE ${s.key} ${s.create.slice(`CREATE SEQUENCE ${s.key} `.length)}`);
  for (const f of [...d.functions.added, ...d.functions.changed.map((c) => c.to)]) add(f.def);
  for (const t of d.tables.added) add(t.create);
  for (const { from: a, to: b } of d.tables.changed) {
    if (a.shape !== b.shape) out.push(`-- table ${b.key}: persistence or partitioning changed; not altered in place`);
  }
  for (const { from: a, to: b } of [...d.tables.added.map((t) => ({ from: null, to: t })), ...d.tables.changed]) {
    if ((a?.rls ?? false) !== b.rls) add(`ALTER TABLE ${b.key} ${b.rls ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`);
    if ((a?.forceRls ?? false) !== b.forceRls) add(`ALTER TABLE ${b.key} ${b.forceRls ? 'FORCE' : 'NO FORCE'} ROW LEVEL SECURITY`);
  }
  for (const c of d.columns.added) add(`ALTER TABLE ${c.table} ADD COLUMN ${c.clause}`);
  for (const c of d.columns.changed) for (const s of alterColumn(c.from, c.to)) add(s);
  for (const s of [...d.sequences.added, ...d.sequences.changed.map((c) => c.to)])
    if (s.ownedBy) add(`ALTER SEQUENCE ${s.key} OWNED BY ${s.ownedBy}`);
  const constraintsNew = [...d.constraints.added, ...d.constraints.changed.map((c) => c.to)];
  for (const k of [...constraintsNew.filter((k) => !k.foreign), ...constraintsNew.filter((k) => k.foreign)])
    add(`ALTER TABLE ${k.table} ADD CONSTRAINT ${q(k.name)} ${k.def}`);
  for (const i of [...d.indexes.added, ...d.indexes.changed.map((c) => c.to)]) add(i.def);
  const viewsNew = [...d.views.added, ...d.views.changed.map((c) => c.to)].sort((a, b) => a.order - b.order);
  for (const v of viewsNew) {
    const replaced = d.views.changed.some((c) => c.to.key === v.key && !viewsRecreated.includes(c.from));
    add(`CREATE ${v.materialized ? 'MATERIALIZED VIEW' : replaced ? 'OR REPLACE VIEW' : 'VIEW'} ${v.key} AS\n${v.def}`);
  }
  for (const t of [...d.triggers.added, ...d.triggers.changed.map((c) => c.to)]) add(t.def);
  for (const p of [...d.policies.added, ...d.policies.changed.map((c) => c.to)]) add(p.def);

  const objects: SchemaDiff['objects'] = {};
  const summary: string[] = [];
  for (const kind of Object.keys(d) as DiffObjectKind[]) {
    const x = d[kind] as Delta<CatalogObject>;
    const entry = { added: x.added.map((o) => o.label), dropped: x.dropped.map((o) => o.label), changed: x.changed.map((c) => c.to.label) };
    if (entry.added.length + entry.dropped.length + entry.changed.length === 0) continue;
    objects[kind] = entry;
    for (const verb of ['added', 'dropped', 'changed'] as const)
      for (const l of entry[verb]) summary.push(`${diffObjectNoun[kind]} ${l} ${verb}`);
  }
  return { statements: out, summary, objects };
}

function alterColumn(a: Column, b: Column): string[] {
  const at = `ALTER TABLE ${b.table} ALTER COLUMN ${q(b.name)}`;
  const out: string[] = [];
  if (a.identity && a.identity !== b.identity) out.push(`${at} DROP IDENTITY`);
  if (a.generated !== null && b.generated === null) out.push(`${at} DROP EXPRESSION`);
  if (a.default !== null && a.default !== b.default) out.push(`${at} DROP DEFAULT`);
  if (a.type !== b.type) out.push(`${at} TYPE ${b.type} USING ${q(b.name)}::${b.type.replace(/ COLLATE .*$/, '')}`);
  if (b.default !== null && a.default !== b.default) out.push(`${at} SET DEFAULT ${b.default}`);
  if (a.notNull !== b.notNull) out.push(`${at} ${b.notNull ? 'SET' : 'DROP'} NOT NULL`);
  if (b.identity && a.identity !== b.identity) out.push(`${at} ADD GENERATED ${b.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`);
  if (b.generated !== null && a.generated !== b.generated) {
    out.push(
      a.generated === null ? `-- column ${b.key}: became generated; drop and add it by hand` : `${at} SET EXPRESSION AS (${b.generated})`,
    );
  }
  return out;
}

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
