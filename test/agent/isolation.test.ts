import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { OWNER_ROLE } from '../../src/agent/postgres/roles.ts';
import { processRunner } from '../../src/agent/runner.ts';

/**
 * A hostile branch holder: connects with exactly what the agent hands out for a branch of a
 * seeded `main` and tries every way out of it; then does what real migrations do.
 */
const SEED = `
  CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, note text);
  CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint REFERENCES customers(id), total numeric NOT NULL);
  CREATE INDEX orders_customer ON orders(customer_id);
  CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 50;
  CREATE FUNCTION order_total(bigint) RETURNS numeric LANGUAGE sql AS 'SELECT sum(total) FROM orders WHERE customer_id = $1';
  INSERT INTO customers(email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 200) g;
  INSERT INTO orders(customer_id, total) SELECT 1 + g % 200, g % 97 FROM generate_series(1, 1000) g;
`;
const PG15 = '/usr/lib/postgresql/15/bin';

const variants = [
  { label: 'embedded PostgreSQL 18', pgBin: null, major: 18 },
  { label: 'PostgreSQL 15 (--pg-bin)', pgBin: PG15, major: 15 },
];

/** The SQLSTATE a statement fails with (null when it succeeds). */
async function sqlState(uri: string, text: string): Promise<string | null> {
  return sql(uri, text).then(
    () => null,
    (err: { code?: string }) => err.code ?? 'no code',
  );
}

/** The SQLSTATE a login fails with (null when it succeeds). */
async function loginState(opts: pg.ClientConfig): Promise<string | null> {
  const c = new pg.Client({ ...opts, connectionTimeoutMillis: 5000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return null;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

for (const v of variants) {
  describeWithPool(`a hostile branch holder on ${v.label}`, () => {
    let e: TestEngine;
    let uri: string;
    const conn = (name: string) => connectionInfo(e.manager.get(name), '127.0.0.1');

    beforeAll(async () => {
      // A range of its own, away from the per-worker ranges every other suite on this host shares.
      const from = 20000 + Math.floor(Math.random() * 99) * 100;
      e = await openTestEngine(`isolation${v.major}`, { ports: { from, to: from + 99 }, ...(v.pgBin ? { pgBin: v.pgBin } : {}) });
      await e.builder.build({ mode: 'empty', seeds: [{ name: 'schema.sql', sql: SEED }] });
      await e.manager.create({ name: 'tenant' });
      await e.manager.create({ name: 'sibling' });
      uri = conn('tenant').uri;
    });

    afterAll(async () => {
      await e?.destroy();
    });

    it('hands out the owner role: no superuser, no server-file or program roles, owns the seeded objects', async () => {
      expect(e.manager.get('tenant').user).toBe(OWNER_ROLE);
      expect(e.manager.get('main').user).toBe(OWNER_ROLE);
      const [me] = await sql(
        uri,
        'SELECT rolsuper, rolcreaterole, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = current_user',
      );
      expect(me).toEqual({ rolsuper: false, rolcreaterole: v.major >= 16, rolbypassrls: true, rolreplication: false });
      const reach = await sql<{ rolname: string }>(
        uri,
        `SELECT rolname FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER') AND rolname <> current_user ORDER BY 1`,
      );
      const names = reach.map((r) => r.rolname);
      expect(names).toEqual(expect.arrayContaining(['pg_monitor', 'pg_read_all_data', 'pg_write_all_data']));
      for (const bad of ['postgres', 'pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']) {
        expect(names).not.toContain(bad);
      }
      const supers = await sql(uri, `SELECT 1 FROM pg_roles WHERE rolsuper AND pg_has_role(current_user, oid, 'MEMBER')`);
      expect(supers).toHaveLength(0);
      const owners = await sql<{ o: string }>(
        uri,
        `SELECT DISTINCT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relnamespace = 'public'::regnamespace`,
      );
      expect(owners).toEqual([{ o: OWNER_ROLE }]);
      const [db] = await sql<{ o: string }>(uri, 'SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = current_database()');
      expect(db.o).toBe(OWNER_ROLE);
    });

    it('refuses programs and server files: COPY PROGRAM, COPY to a file, pg_read_file, pg_ls_dir, lo_import', async () => {
      expect(await sqlState(uri, `COPY customers FROM PROGRAM 'id'`)).toBe('42501');
      expect(await sqlState(uri, `COPY (SELECT 1) TO PROGRAM 'touch /tmp/vela-escape'`)).toBe('42501');
      expect(await sqlState(uri, `COPY (SELECT email FROM customers) TO '/tmp/vela-escape-x'`)).toBe('42501');
      expect(await sqlState(uri, `COPY customers FROM '/etc/passwd'`)).toBe('42501');
      expect(await sqlState(uri, `SELECT pg_read_file('/etc/passwd')`)).toBe('42501');
      expect(await sqlState(uri, `SELECT pg_read_file('postgresql.auto.conf')`)).toBe('42501');
      expect(await sqlState(uri, `SELECT pg_read_binary_file('/etc/passwd')`)).toBe('42501');
      expect(await sqlState(uri, `SELECT pg_ls_dir('.')`)).toBe('42501');
      expect(await sqlState(uri, `SELECT lo_import('/etc/passwd')`)).toBe('42501');
      await expect(stat('/tmp/vela-escape')).rejects.toThrow(/ENOENT/);
      await expect(stat('/tmp/vela-escape-x')).rejects.toThrow(/ENOENT/);
    });

    it('refuses ALTER SYSTEM, SET ROLE to the superuser, granting itself server roles, superuser roles', async () => {
      expect(await sqlState(uri, `ALTER SYSTEM SET shared_preload_libraries = 'x'`)).toBe('42501');
      expect(await sqlState(uri, 'SET ROLE postgres')).toBe('42501');
      expect(await sqlState(uri, 'SET SESSION AUTHORIZATION postgres')).toBe('42501');
      expect(await sqlState(uri, 'GRANT pg_execute_server_program TO CURRENT_USER')).toBe('42501');
      expect(await sqlState(uri, 'GRANT pg_read_server_files TO CURRENT_USER')).toBe('42501');
      expect(await sqlState(uri, 'GRANT postgres TO CURRENT_USER')).toBe('42501');
      expect(await sqlState(uri, 'CREATE ROLE x SUPERUSER')).toBe('42501');
      expect(await sqlState(uri, `ALTER ROLE CURRENT_USER SUPERUSER`)).toBe('42501');
      expect(await sqlState(uri, `ALTER ROLE CURRENT_USER REPLICATION`)).toBe('42501');
    });

    it('refuses untrusted extensions', async () => {
      const available = await sql<{ name: string }>(
        uri,
        `SELECT name FROM pg_available_extensions WHERE name IN ('file_fdw', 'dblink', 'adminpack') ORDER BY 1`,
      );
      // Both builds ship file_fdw and dblink; PostgreSQL 15 also adminpack (removed in 17).
      expect(available.map((r) => r.name)).toEqual(v.major >= 17 ? ['dblink', 'file_fdw'] : ['adminpack', 'dblink', 'file_fdw']);
      for (const { name } of available) expect(await sqlState(uri, `CREATE EXTENSION ${name}`)).toBe('42501');
      expect(await sqlState(uri, `CREATE LANGUAGE plpython3u`)).not.toBeNull();
    });

    it("logs in nowhere else with this branch's password, never as the superuser over TCP", async () => {
      const mine = conn('tenant');
      const base = { host: '127.0.0.1', user: mine.user, password: mine.password, database: mine.database };
      expect(await loginState({ ...base, port: mine.port })).toBeNull();
      expect(await loginState({ ...base, port: conn('main').port })).toBe('28P01');
      expect(await loginState({ ...base, port: conn('sibling').port })).toBe('28P01');
      // pg_hba refuses the superuser over TCP before any password is checked (28000, not 28P01).
      for (const port of [mine.port, conn('main').port]) {
        expect(await loginState({ host: '127.0.0.1', port, user: 'postgres', password: mine.password, database: 'postgres' })).toBe(
          '28000',
        );
      }
    });

    it('the socket takes only the agent: its dir is 0700 for the postgres OS user, peer refuses other OS users', async () => {
      const rec = e.manager.get('tenant');
      const dir = e.pg.socketDir(rec.port);
      const st = await stat(dir);
      expect(st.mode & 0o777).toBe(0o700);
      expect(st.uid).not.toBe(0);
      // The postgres OS user itself (whatever runs inside a branch) gets no superuser session.
      const asPg = await processRunner(
        [`${PG15}/psql`, '-h', dir, '-p', String(rec.port), '-U', 'postgres', '-d', 'postgres', '-c', 'SELECT 1'],
        {
          uid: st.uid,
          gid: st.gid,
          allowFailure: true,
          env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '5' },
        },
      );
      expect(asPg.code).not.toBe(0);
      expect(asPg.stderr).toMatch(/Peer authentication failed|no pg_hba.conf entry|rejects connection/);
      const asOwner = await processRunner(
        [`${PG15}/psql`, '-h', dir, '-p', String(rec.port), '-U', OWNER_ROLE, '-d', 'postgres', '-w', '-c', 'SELECT 1'],
        {
          uid: st.uid,
          gid: st.gid,
          allowFailure: true,
          env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '5' },
        },
      );
      expect(asOwner.code).not.toBe(0);
      // The agent (this process's OS user) does get in.
      const rows = await e.pg.withClient(
        rec.port,
        async (c) => (await c.query<{ s: boolean }>('SELECT usesuper AS s FROM pg_user WHERE usename = current_user')).rows,
      );
      expect(rows).toEqual([{ s: true }]);
    });

    it('does what migrations need on the seeded tables', async () => {
      const steps = [
        'ALTER TABLE customers ADD COLUMN phone text',
        'ALTER TABLE customers ALTER COLUMN note TYPE varchar(200)',
        'CREATE INDEX customers_phone ON customers(phone)',
        'DROP INDEX orders_customer',
        'ALTER TABLE orders RENAME COLUMN total TO amount',
        'DROP VIEW big_orders',
        'CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 60',
        'DROP FUNCTION order_total(bigint)',
        'CREATE SCHEMA reporting',
        'CREATE TABLE reporting.daily (day date PRIMARY KEY, n int)',
        'ALTER TABLE customers ENABLE ROW LEVEL SECURITY',
        `CREATE POLICY own_rows ON customers USING (email = current_user)`,
        'ALTER TABLE customers FORCE ROW LEVEL SECURITY',
        'CREATE EXTENSION pgcrypto',
        'CREATE EXTENSION citext',
        'CREATE EXTENSION hstore',
        'CREATE EXTENSION "uuid-ossp"',
        'CREATE EXTENSION pg_trgm',
        'CREATE INDEX customers_email_trgm ON customers USING gin (email gin_trgm_ops)',
        `ALTER TABLE customers ADD COLUMN token uuid DEFAULT gen_random_uuid(), ADD COLUMN attrs hstore, ADD COLUMN nick citext`,
        'DROP TABLE reporting.daily',
      ];
      for (const s of steps) expect({ s, state: await sqlState(uri, s) }).toEqual({ s, state: null });
      // Outside a transaction block, as migration tools run it.
      expect(await sqlState(uri, 'CREATE INDEX CONCURRENTLY orders_amount ON orders(amount)')).toBeNull();
      const [row] = await sql<{ n: string; h: string }>(
        uri,
        `SELECT count(*) AS n, max(encode(digest(email, 'sha256'), 'hex')) AS h FROM customers`,
      );
      expect(Number(row.n)).toBe(200); // the owner bypasses RLS (BYPASSRLS), as a superuser did
      expect(row.h).toMatch(/^[0-9a-f]{64}$/);
      expect(await sql(conn('sibling').uri, `SELECT 1 FROM pg_indexes WHERE indexname = 'orders_amount'`)).toHaveLength(0);
    });

    it(
      v.major >= 16 ? 'creates and grants roles (CREATEROLE from PostgreSQL 16)' : 'creates no roles (CREATEROLE only from PostgreSQL 16)',
      async () => {
        if (v.major >= 16) {
          for (const s of [
            `CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw-1'`,
            'GRANT SELECT ON customers TO app_reader',
            'ALTER ROLE app_reader CONNECTION LIMIT 5',
            'GRANT app_reader TO CURRENT_USER',
          ]) {
            expect({ s, state: await sqlState(uri, s) }).toEqual({ s, state: null });
          }
          // Its roles cannot be more than it is: no superuser, no server programs, even by ADMIN.
          expect(await sqlState(uri, 'GRANT pg_execute_server_program TO app_reader')).toBe('42501');
          expect(await sqlState(uri, 'ALTER ROLE app_reader SUPERUSER')).toBe('42501');
          expect(await sqlState(uri, 'CREATE ROLE app_admin REPLICATION')).toBe('42501');
          const mine = conn('tenant');
          expect(
            await loginState({ host: '127.0.0.1', port: mine.port, user: 'app_reader', password: 'reader-pw-1', database: mine.database }),
          ).toBeNull();
        } else {
          expect(await sqlState(uri, 'CREATE ROLE app_reader')).toBe('42501');
        }
      },
    );

    it('a branch made before owner roles (superuser handed out, trust in pg_hba) moves onto the owner role at its next start', async () => {
      const { record } = await e.manager.create({ name: 'legacy' });
      const dir = e.storage.volumePath('legacy');
      await e.manager.stop('legacy');
      // What an older agent left: the superuser in the record, trust in pg_hba.conf.
      await writeFile(join(dir, 'pg_hba.conf'), 'local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\n');
      const file = join(e.dataDir, 'state', 'branches', 'legacy.json');
      await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), user: 'postgres' }));
      const upgraded = await e.reopen();
      expect(upgraded.manager.get('legacy').user).toBe('postgres');
      await upgraded.manager.start('legacy');
      const rec = upgraded.manager.get('legacy');
      expect(rec.user).toBe(OWNER_ROLE);
      expect(rec.password).toBe(record.password);
      expect(await readFile(join(dir, 'pg_hba.conf'), 'utf8')).not.toMatch(/trust/);
      const c = connectionInfo(rec, '127.0.0.1');
      expect(await sql(c.uri, 'SELECT current_user AS u')).toEqual([{ u: OWNER_ROLE }]);
      expect(await loginState({ host: '127.0.0.1', port: c.port, user: 'postgres', password: c.password, database: 'postgres' })).toBe(
        '28000',
      );
    });
  });
}
