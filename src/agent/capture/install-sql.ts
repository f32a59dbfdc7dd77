/**
 * The SQL that puts change capture into a branch, run by the agent's superuser over the branch's
 * socket before TCP logins are let in. Everything lives in the reserved schema CAPTURE_SCHEMA,
 * owned by the bootstrap superuser, with no privileges for anyone else.
 */

/** The reserved schema (owned by the superuser; the owner role has no privilege on it). */
export const CAPTURE_SCHEMA = '_vela';
/** Prefix of a branch's logical replication slot (one per branch, a new name on every install). */
export const SLOT_PREFIX = 'vela_capture_';
/** Tables of the reserved schema whose rows come out of decoding as DDL and sequence positions. */
export const DDL_LOG = 'ddl_log';
export const SEQ_STATE = 'seq_state';
/** Bumped when the objects below change: a branch inheriting an older version gets them replaced. */
export const CAPTURE_VERSION = 2;
/** The reserved schema's comment: says which version of the objects it holds. */
export const VERSION_COMMENT = `vela-branch change capture (version ${CAPTURE_VERSION})`;

/**
 * Schema, log tables and event triggers. Idempotent: a branch of a capturing branch inherits them.
 * The trigger functions run as SECURITY DEFINER (the owner role cannot write the log itself); they
 * read the caller's search_path first and then pin their own, so nothing a client puts on its
 * search_path runs with superuser rights. Every name in the first statements is schema-qualified.
 */
export function installSql(superuser: string): string {
  const su = `"${superuser.replace(/"/g, '""')}"`;
  return `
CREATE SCHEMA IF NOT EXISTS _vela AUTHORIZATION ${su};
ALTER SCHEMA _vela OWNER TO ${su};
REVOKE ALL ON SCHEMA _vela FROM PUBLIC;
CREATE TABLE IF NOT EXISTS _vela.ddl_log (
  tag text NOT NULL,
  query text NOT NULL,
  search_path text NOT NULL,
  role text NOT NULL,
  objects text[] NOT NULL,
  stmt_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS _vela.seq_state (
  seq_schema text NOT NULL,
  seq_name text NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (seq_schema, seq_name)
);
ALTER TABLE _vela.seq_state REPLICA IDENTITY DEFAULT;

-- The owner role holds pg_write_all_data (write access to every table): only a superuser (the
-- event trigger's SECURITY DEFINER function, the agent) may write the log tables.
CREATE OR REPLACE FUNCTION _vela.guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) THEN
    RAISE EXCEPTION 'permission denied for table %', tg_table_name USING ERRCODE = '42501';
  END IF;
  RETURN CASE WHEN tg_op = 'DELETE' THEN OLD ELSE NEW END;
END
$fn$;
DROP TRIGGER IF EXISTS guard ON _vela.ddl_log;
DROP TRIGGER IF EXISTS guard_truncate ON _vela.ddl_log;
DROP TRIGGER IF EXISTS guard ON _vela.seq_state;
DROP TRIGGER IF EXISTS guard_truncate ON _vela.seq_state;
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON _vela.ddl_log FOR EACH ROW EXECUTE FUNCTION _vela.guard();
CREATE TRIGGER guard_truncate BEFORE TRUNCATE ON _vela.ddl_log FOR EACH STATEMENT EXECUTE FUNCTION _vela.guard();
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON _vela.seq_state FOR EACH ROW EXECUTE FUNCTION _vela.guard();
CREATE TRIGGER guard_truncate BEFORE TRUNCATE ON _vela.seq_state FOR EACH STATEMENT EXECUTE FUNCTION _vela.guard();

CREATE OR REPLACE FUNCTION _vela.on_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  v_sp pg_catalog.text := pg_catalog.current_setting('search_path');
  v_temp pg_catalog.bool;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  -- A DROP that removed only temporary objects is not replayed (the objects never reach the log).
  SELECT coalesce(bool_and(is_temporary), false) INTO v_temp FROM pg_event_trigger_dropped_objects();
  PERFORM set_config('vela.dropped_temp', CASE WHEN v_temp THEN 'on' ELSE 'off' END, true);
  PERFORM set_config('search_path', v_sp, true);
END
$fn$;

CREATE OR REPLACE FUNCTION _vela.on_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  v_sp pg_catalog.text := pg_catalog.current_setting('search_path');
  v_role pg_catalog.text := pg_catalog.current_setting('role');
  v_busy pg_catalog.text := pg_catalog.current_setting('vela.capture_busy', true);
  v_objects pg_catalog.text[];
  v_rel pg_catalog.oid;
  v_ctid pg_catalog.tid;
BEGIN
  -- Our own ALTER TABLE below fires this trigger again: not a command of the branch's.
  IF v_busy IS NOT NULL AND v_busy OPERATOR(pg_catalog.=) 'on' THEN RETURN; END IF;
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  -- Dormant where no branch slot exists (a parent holding the objects for its children to inherit).
  IF NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE '${SLOT_PREFIX}%') THEN
    PERFORM set_config('search_path', v_sp, true);
    RETURN;
  END IF;
  -- The agent's own DDL on a branch (its sessions are the superuser's) is not the branch's.
  IF current_setting('vela.capture', true) = 'off' AND (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    PERFORM set_config('search_path', v_sp, true);
    RETURN;
  END IF;
  SELECT coalesce(array_agg(object_identity ORDER BY object_identity), '{}') INTO v_objects
    FROM pg_event_trigger_ddl_commands()
    WHERE NOT in_extension AND coalesce(schema_name, '') !~ '^pg_temp';
  IF (tg_tag IN ('DROP TABLE', 'DROP VIEW', 'DROP SEQUENCE', 'DROP INDEX', 'DROP FUNCTION', 'DROP TYPE')
        AND current_setting('vela.dropped_temp', true) = 'on')
     OR (v_objects = '{}' AND EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands())) THEN
    -- Only temporary objects or an extension's own members: nothing to replay.
    PERFORM set_config('vela.dropped_temp', 'off', true);
    PERFORM set_config('search_path', v_sp, true);
    RETURN;
  END IF;
  PERFORM set_config('vela.dropped_temp', 'off', true);
  -- Into WAL (decoding reads the insert) and straight out again: readers never see a row.
  INSERT INTO _vela.ddl_log (tag, query, search_path, role, objects, stmt_at)
    VALUES (tg_tag, current_query(), v_sp, CASE WHEN v_role = 'none' THEN session_user::text ELSE v_role END,
            v_objects, statement_timestamp())
    RETURNING ctid INTO v_ctid;
  DELETE FROM _vela.ddl_log WHERE ctid = v_ctid;
  -- New tables log their whole old row on UPDATE and DELETE (a rebase compares it with the parent's).
  PERFORM set_config('vela.capture_busy', 'on', true);
  FOR v_rel IN
    SELECT DISTINCT c.oid FROM pg_event_trigger_ddl_commands() d JOIN pg_class c ON c.oid = d.objid
    WHERE d.classid = 'pg_class'::regclass AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
      AND c.relreplident = 'd' AND NOT d.in_extension
  LOOP
    EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', v_rel::regclass);
  END LOOP;
  PERFORM set_config('vela.capture_busy', 'off', true);
  PERFORM set_config('search_path', v_sp, true);
END
$fn$;

REVOKE ALL ON ALL TABLES IN SCHEMA _vela FROM PUBLIC;
REVOKE ALL ON FUNCTION _vela.on_ddl() FROM PUBLIC;
REVOKE ALL ON FUNCTION _vela.on_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION _vela.guard() FROM PUBLIC;
COMMENT ON SCHEMA _vela IS '${VERSION_COMMENT}';
DROP EVENT TRIGGER IF EXISTS vela_capture_ddl;
DROP EVENT TRIGGER IF EXISTS vela_capture_drop;
CREATE EVENT TRIGGER vela_capture_drop ON sql_drop EXECUTE FUNCTION _vela.on_drop();
CREATE EVENT TRIGGER vela_capture_ddl ON ddl_command_end EXECUTE FUNCTION _vela.on_ddl();
`;
}
