import type pg from 'pg';

/**
 * The role every branch hands out: it owns the branch's databases and objects and may do what
 * migrations need, but is no superuser and cannot reach the server's files or programs.
 */
export const OWNER_ROLE = 'vela_owner';

/** Predefined roles that read or write server files or run programs: never the owner's. */
export const SERVER_ACCESS_ROLES = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'];
/** Predefined roles the owner holds so it can see and change every table and watch the server. */
export const OWNER_GRANTS = ['pg_read_all_data', 'pg_write_all_data', 'pg_monitor'];

/** Schemas that belong to the system (and `_vela`, change capture's: capture/install-sql.ts): never given away. */
const SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast', '_vela')";

/**
 * Creates the owner role when missing and pins its attributes and memberships: run in every fresh
 * branch, so a role of that name brought by a source (replica) or changed in a parent gets them too.
 * CREATEROLE only from PostgreSQL 16: before, it could grant itself any predefined role.
 */
export async function ensureOwnerRole(c: pg.Client, opts: { role: string; major: number }): Promise<void> {
  const role = c.escapeIdentifier(opts.role);
  const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [opts.role]);
  if (!exists.rowCount) await c.query(`CREATE ROLE ${role}`);
  const createRole = opts.major >= 16 ? 'CREATEROLE' : 'NOCREATEROLE';
  await c.query(
    `ALTER ROLE ${role} WITH LOGIN NOSUPERUSER NOREPLICATION INHERIT CREATEDB BYPASSRLS ${createRole};` +
      `GRANT ${OWNER_GRANTS.join(', ')} TO ${role}`,
  );
  const bad = await c.query<{ rolname: string }>(
    `WITH RECURSIVE up(oid) AS (
       SELECT roleid FROM pg_auth_members WHERE member = (SELECT oid FROM pg_roles WHERE rolname = $1)
       UNION SELECT m.roleid FROM pg_auth_members m JOIN up ON m.member = up.oid)
     SELECT r.rolname FROM up JOIN pg_roles r ON r.oid = up.oid
     WHERE r.rolsuper OR r.rolname = ANY($2::text[]) ORDER BY 1`,
    [opts.role, SERVER_ACCESS_ROLES],
  );
  if (bad.rowCount) {
    throw new Error(
      `role ${opts.role} is a member of ${bad.rows.map((r) => r.rolname).join(', ')} in this cluster; revoke that membership in the source (branch roles must not reach superusers or server files)`,
    );
  }
}

/** The owner role in place and owning every database a client can open. */
export async function setUpOwner(c: pg.Client, opts: { role: string; major: number }): Promise<void> {
  await ensureOwnerRole(c, opts);
  await ownDatabases(c, opts.role);
}

/** The databases a client can open (not templates): the ones the owner must own. */
export async function userDatabases(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
  return r.rows.map((x) => x.datname);
}

/** Makes the owner the owner of every database a client can open. */
export async function ownDatabases(c: pg.Client, role: string): Promise<void> {
  const r = await c.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datdba <> (SELECT oid FROM pg_roles WHERE rolname = $1)`,
    [role],
  );
  for (const { datname } of r.rows) {
    await c.query(`ALTER DATABASE ${c.escapeIdentifier(datname)} OWNER TO ${c.escapeIdentifier(role)}`);
  }
}

/**
 * Gives the owner every user object of the connected database that another role owns (schemas,
 * tables, views, sequences, routines, types, statistics, text search objects), so migrations can
 * alter what a restore or a replica's source created. `REASSIGN OWNED BY` cannot be used: it fails
 * for the bootstrap superuser, which owns the system catalogs. Objects of extensions stay as they
 * are (the extension owns them). Returns how many objects changed owner.
 */
export async function takeOwnership(c: pg.Client, role: string): Promise<number> {
  const rows = await c.query<{ kind: string; name: string }>(OWNED_ELSEWHERE, [role]);
  if (!rows.rowCount) return 0;
  const owner = c.escapeIdentifier(role);
  // The agent's DDL, not the branch's: change capture's event trigger leaves it out of the log.
  await c.query("SET vela.capture = 'off'");
  // One multi-statement query: one round trip and one implicit transaction, all or nothing.
  await c.query(rows.rows.map((o) => `ALTER ${o.kind} ${o.name} OWNER TO ${owner}`).join(';\n'));
  return rows.rowCount;
}

/** Every user object not owned by $1, as the ALTER keyword and its quoted name; schemas first. */
const OWNED_ELSEWHERE = `
WITH me AS (SELECT oid FROM pg_roles WHERE rolname = $1),
ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
ns AS (
  SELECT n.oid, n.nspname FROM pg_namespace n
  WHERE n.nspname NOT IN ${SYSTEM_SCHEMAS} AND n.nspname !~ '^pg_(toast_)?temp_')
SELECT 1 AS ord, 'SCHEMA' AS kind, quote_ident(n.nspname) AS name
  FROM pg_namespace n JOIN ns ON ns.oid = n.oid
  WHERE n.nspowner <> (SELECT oid FROM me)
    AND n.nspowner <> 'pg_database_owner'::regrole
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_namespace'::regclass AND objid = n.oid)
UNION ALL
SELECT 2, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                         WHEN 'S' THEN 'SEQUENCE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END,
       quote_ident(ns.nspname) || '.' || quote_ident(c.relname)
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c') AND c.relowner <> (SELECT oid FROM me)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_class'::regclass AND objid = c.oid)
    -- a sequence that belongs to a column changes owner with its table
    AND NOT (c.relkind = 'S' AND EXISTS (
      SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT 3, 'ROUTINE', p.oid::regprocedure::text
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  WHERE p.proowner <> (SELECT oid FROM me)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_proc'::regclass AND objid = p.oid)
UNION ALL
SELECT 4, 'TYPE', quote_ident(ns.nspname) || '.' || quote_ident(t.typname)
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
  WHERE t.typtype IN ('d', 'e', 'r') AND t.typowner <> (SELECT oid FROM me)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_type'::regclass AND objid = t.oid)
UNION ALL
SELECT 5, 'STATISTICS', quote_ident(ns.nspname) || '.' || quote_ident(s.stxname)
  FROM pg_statistic_ext s JOIN ns ON ns.oid = s.stxnamespace
  WHERE s.stxowner <> (SELECT oid FROM me)
UNION ALL
SELECT 6, 'TEXT SEARCH CONFIGURATION', quote_ident(ns.nspname) || '.' || quote_ident(t.cfgname)
  FROM pg_ts_config t JOIN ns ON ns.oid = t.cfgnamespace
  WHERE t.cfgowner <> (SELECT oid FROM me)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_ts_config'::regclass AND objid = t.oid)
UNION ALL
SELECT 7, 'TEXT SEARCH DICTIONARY', quote_ident(ns.nspname) || '.' || quote_ident(t.dictname)
  FROM pg_ts_dict t JOIN ns ON ns.oid = t.dictnamespace
  WHERE t.dictowner <> (SELECT oid FROM me)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_ts_dict'::regclass AND objid = t.oid)
ORDER BY 1, 3`;
