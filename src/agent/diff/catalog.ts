import { CAPTURE_SCHEMA } from '../capture/install-sql.ts';
import type pg from 'pg';

/**
 * Schemas the agent owns inside a branch (change capture's log and triggers): never part of a
 * user's diff. Extension members and PostgreSQL's own schemas are left out as well.
 */
export const AGENT_SCHEMAS = [CAPTURE_SCHEMA];

/** One object of a database as PostgreSQL itself renders it; `def` decides "changed". */
export interface CatalogObject {
  /** Identity, qualified and quoted as SQL wants it (`"public"."users"`); unique per kind. */
  key: string;
  /** A readable name for summaries (`public.users`). */
  label: string;
  def: string;
  /** Creation order in its database (the oid): a later view may read an earlier one. */
  order: number;
}

export interface Column extends CatalogObject {
  table: string;
  /** The column's definition clause, ready for CREATE/ALTER TABLE. */
  clause: string;
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
  identity: '' | 'a' | 'd';
  generated: string | null;
}

export interface Table extends CatalogObject {
  /** `CREATE TABLE` with its own columns (constraints, indexes and triggers come separately). */
  create: string;
  /** Persistence and partitioning: what ALTER TABLE cannot change in place. */
  shape: string;
  rls: boolean;
  forceRls: boolean;
}

export interface Catalog {
  schemas: CatalogObject[];
  extensions: CatalogObject[];
  /** Enums (`labels` in order) and domains (`domain`: what follows CREATE DOMAIN name). */
  types: (CatalogObject & { labels: string[]; domain: string | null })[];
  sequences: (CatalogObject & { create: string; ownedBy: string | null })[];
  tables: Table[];
  columns: Column[];
  constraints: (CatalogObject & { table: string; name: string; foreign: boolean })[];
  indexes: CatalogObject[];
  /** `columns`: name and type in order (CREATE OR REPLACE VIEW may only append). */
  views: (CatalogObject & { materialized: boolean; columns: string[] })[];
  functions: (CatalogObject & { kind: 'FUNCTION' | 'PROCEDURE' })[];
  triggers: (CatalogObject & { table: string; name: string })[];
  /** Row-level security policies; `def` is their CREATE POLICY. */
  policies: (CatalogObject & { table: string; name: string })[];
}

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
const qn = (schema: string, name: string) => `${q(schema)}.${q(name)}`;

/** The user's schemas: not PostgreSQL's own, not the agent's, not an extension's. */
const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname <> ALL($1::text[])`;
/** Not created by an extension (its members come and go with CREATE EXTENSION). */
const notExtension = (cls: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${cls}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

type Row = Record<string, unknown>;

/**
 * Reads the schema of the database `c` is connected to. The session's search_path is emptied
 * first so every name PostgreSQL renders (views, defaults, indexes) comes out schema-qualified and
 * the generated SQL means the same whatever search_path it is later run with.
 */
export async function readCatalog(c: pg.Client): Promise<Catalog> {
  await c.query("SELECT pg_catalog.set_config('search_path', '', false)");
  const all = async <T extends Row>(sql: string): Promise<T[]> => (await c.query<T>(sql, sql.includes('$1') ? [AGENT_SCHEMAS] : [])).rows;

  const schemas = (
    await all<{ nspname: string; oid: number }>(
      `SELECT n.nspname, n.oid::int8 AS oid FROM pg_namespace n WHERE ${USER_NS} AND ${notExtension('pg_namespace', 'n.oid')}`,
    )
  ).map((r) => ({ key: q(r.nspname), label: r.nspname, def: '', order: Number(r.oid) }));

  const extensions = (
    await all<{ extname: string; nspname: string; oid: number }>(
      `SELECT e.extname, n.nspname, e.oid::int8 AS oid FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'`,
    )
  ).map((r) => ({ key: q(r.extname), label: r.extname, def: r.nspname, order: Number(r.oid) }));

  // Enums (`labels`) and domains (`domain`: their CREATE DOMAIN).
  const types = (
    await all<{ nspname: string; typname: string; labels: string[]; oid: number; domain: string | null }>(
      `SELECT n.nspname, t.typname, t.oid::int8 AS oid,
              ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
              CASE WHEN t.typtype = 'd' THEN concat_ws(' ', 'AS ' || format_type(t.typbasetype, t.typtypmod),
                (SELECT 'COLLATE ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                   FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace JOIN pg_type b ON b.oid = t.typbasetype
                  WHERE co.oid = t.typcollation AND t.typcollation <> b.typcollation),
                'DEFAULT ' || t.typdefault, CASE WHEN t.typnotnull THEN 'NOT NULL' END,
                (SELECT string_agg('CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), ' ' ORDER BY k.conname)
                   FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c')) END AS domain
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd') AND ${USER_NS} AND ${notExtension('pg_type', 't.oid')}`,
    )
  ).map((r) => ({
    key: qn(r.nspname, r.typname),
    label: `${r.nspname}.${r.typname}`,
    def: r.domain ?? r.labels.join(','),
    labels: r.labels,
    domain: r.domain,
    order: Number(r.oid),
  }));

  const sequences = (
    await all<Row & { nspname: string; relname: string; oid: number; owned_by: string | null }>(
      `SELECT n.nspname, c.relname, c.oid::int8 AS oid, format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start,
              s.seqincrement::text AS inc, s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
              (SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.' || quote_ident(a.attname)
                 FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a') AS owned_by
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
        WHERE c.relkind = 'S' AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')`,
    )
  ).map((r) => {
    const opts = `AS ${String(r.type)} INCREMENT BY ${String(r.inc)} MINVALUE ${String(r.min)} MAXVALUE ${String(r.max)} START WITH ${String(r.start)} CACHE ${String(r.cache)}${r.cycle ? ' CYCLE' : ' NO CYCLE'}`;
    const key = qn(r.nspname, r.relname);
    return {
      key,
      label: `${r.nspname}.${r.relname}`,
      def: `${opts} OWNED BY ${r.owned_by ?? 'NONE'}`,
      create: `CREATE SEQUENCE ${key} ${opts}`,
      ownedBy: r.owned_by,
      order: Number(r.oid),
    };
  });

  const columnRows = await all<{
    nspname: string;
    relname: string;
    attname: string;
    type: string;
    notnull: boolean;
    dflt: string | null;
    identity: '' | 'a' | 'd';
    generated: string;
    collation: string | null;
    local: boolean;
    attnum: number;
  }>(
    `SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
            pg_get_expr(ad.adbin, ad.adrelid) AS dflt, a.attidentity AS identity, a.attgenerated AS generated, a.attislocal AS local, a.attnum,
            CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}
      ORDER BY c.oid, a.attnum`,
  );
  const columns: Column[] = columnRows
    .filter((r) => r.local)
    .map((r) => {
      const table = qn(r.nspname, r.relname);
      const generated = r.generated ? r.dflt : null;
      const dflt = r.generated ? null : r.dflt;
      const clause = [
        q(r.attname),
        r.type,
        r.collation ? `COLLATE ${r.collation}` : '',
        generated !== null ? `GENERATED ALWAYS AS (${generated}) ${r.generated === 'v' ? 'VIRTUAL' : 'STORED'}` : '',
        dflt !== null ? `DEFAULT ${dflt}` : '',
        r.identity ? `GENERATED ${r.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY` : '',
        r.notnull ? 'NOT NULL' : '',
      ]
        .filter(Boolean)
        .join(' ');
      return {
        key: `${table}.${q(r.attname)}`,
        label: `${r.nspname}.${r.relname}.${r.attname}`,
        def: clause,
        order: r.attnum,
        table,
        clause,
        name: r.attname,
        type: r.collation ? `${r.type} COLLATE ${r.collation}` : r.type,
        notNull: r.notnull,
        default: dflt,
        identity: r.identity,
        generated,
      };
    });

  const tables = (
    await all<{
      nspname: string;
      relname: string;
      oid: number;
      persistence: string;
      partkey: string | null;
      parent: string | null;
      bound: string | null;
      rls: boolean;
      force: boolean;
    }>(
      `SELECT n.nspname, c.relname, c.oid::int8 AS oid, c.relpersistence AS persistence, c.relrowsecurity AS rls, c.relforcerowsecurity AS force,
              CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey,
              CASE WHEN c.relispartition THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) END AS parent,
              CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}`,
    )
  ).map((r) => {
    const key = qn(r.nspname, r.relname);
    const own = columns.filter((col) => col.table === key).map((col) => `  ${col.clause}`);
    const head = `CREATE ${r.persistence === 'u' ? 'UNLOGGED ' : ''}TABLE ${key}`;
    // A partition's columns are its parent's (and not listed among the columns).
    const create = r.parent
      ? `${head} PARTITION OF ${r.parent} ${r.bound ?? ''}`
      : `${head} (\n${own.join(',\n')}\n)${r.partkey ? ` PARTITION BY ${r.partkey}` : ''}`;
    const shape = [r.persistence, r.partkey ?? '', r.parent ?? '', r.bound ?? ''].join('|');
    const def = `${shape}|rls=${r.rls}|force=${r.force}`;
    return { key, label: `${r.nspname}.${r.relname}`, def, create, shape, rls: r.rls, forceRls: r.force, order: Number(r.oid) };
  });

  const constraints = (
    await all<{ nspname: string; relname: string; conname: string; def: string; contype: string; oid: number }>(
      `SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid) AS def, k.contype, k.oid::int8 AS oid
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE k.contype <> 'n' AND k.conislocal AND k.conparentid = 0 AND c.relkind IN ('r', 'p')
          AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}`,
    )
  ).map((r) => {
    const table = qn(r.nspname, r.relname);
    return {
      key: `${table}.${q(r.conname)}`,
      label: `${r.nspname}.${r.relname}.${r.conname}`,
      def: r.def,
      order: Number(r.oid),
      table,
      name: r.conname,
      foreign: r.contype === 'f',
    };
  });

  const indexes = (
    await all<{ nspname: string; relname: string; def: string; oid: number }>(
      `SELECT n.nspname, ic.relname, pg_get_indexdef(ic.oid) AS def, ic.oid::int8 AS oid
         FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = ic.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND NOT ic.relispartition AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ic.oid AND k.contype IN ('p', 'u', 'x'))`,
    )
  ).map((r) => ({ key: qn(r.nspname, r.relname), label: `${r.nspname}.${r.relname}`, def: r.def, order: Number(r.oid) }));

  const views = (
    await all<{ nspname: string; relname: string; def: string; relkind: string; oid: number; columns: string[] }>(
      `SELECT n.nspname, c.relname, pg_get_viewdef(c.oid, true) AS def, c.relkind, c.oid::int8 AS oid,
              ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}`,
    )
  ).map((r) => ({
    key: qn(r.nspname, r.relname),
    label: `${r.nspname}.${r.relname}`,
    def: r.def.trim().replace(/;$/, ''),
    materialized: r.relkind === 'm',
    columns: r.columns,
    order: Number(r.oid),
  }));

  const functions = (
    await all<{ nspname: string; proname: string; args: string; def: string; prokind: string; oid: number }>(
      `SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS args, pg_get_functiondef(p.oid) AS def, p.prokind, p.oid::int8 AS oid
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p') AND ${USER_NS} AND ${notExtension('pg_proc', 'p.oid')}`,
    )
  ).map((r) => ({
    key: `${qn(r.nspname, r.proname)}(${r.args})`,
    label: `${r.nspname}.${r.proname}(${r.args})`,
    def: r.def.trim(),
    kind: r.prokind === 'p' ? ('PROCEDURE' as const) : ('FUNCTION' as const),
    order: Number(r.oid),
  }));

  const triggers = (
    await all<{ nspname: string; relname: string; tgname: string; def: string; oid: number }>(
      `SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid) AS def, t.oid::int8 AS oid
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}`,
    )
  ).map((r) => {
    const table = qn(r.nspname, r.relname);
    return {
      key: `${table}.${q(r.tgname)}`,
      label: `${r.nspname}.${r.relname}.${r.tgname}`,
      def: r.def,
      order: Number(r.oid),
      table,
      name: r.tgname,
    };
  });

  const policies = (
    await all<{
      nspname: string;
      relname: string;
      polname: string;
      permissive: boolean;
      cmd: string;
      roles: string;
      qual: string | null;
      wc: string | null;
      oid: number;
    }>(
      `SELECT n.nspname, c.relname, p.polname, p.polpermissive AS permissive, p.polcmd AS cmd, p.oid::int8 AS oid,
              pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS wc,
              (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ' ORDER BY 1) FROM unnest(p.polroles) r) AS roles
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ${USER_NS} AND ${notExtension('pg_class', 'c.oid')}`,
    )
  ).map((r) => {
    const table = qn(r.nspname, r.relname);
    const cmd = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' }[r.cmd] ?? 'ALL';
    const def = [
      `CREATE POLICY ${q(r.polname)} ON ${table} AS ${r.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${cmd} TO ${r.roles}`,
      r.qual !== null ? ` USING (${r.qual})` : '',
      r.wc !== null ? ` WITH CHECK (${r.wc})` : '',
    ].join('');
    return {
      key: `${table}.${q(r.polname)}`,
      label: `${r.nspname}.${r.relname}.${r.polname}`,
      def,
      order: Number(r.oid),
      table,
      name: r.polname,
    };
  });

  return { schemas, extensions, types, sequences, tables, columns, constraints, indexes, views, functions, triggers, policies };
}
