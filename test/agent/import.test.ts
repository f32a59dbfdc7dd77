import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql, adminSql, testPortRange } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { startSourceCluster } from '../helpers/source-cluster.ts';
import type { SourceCluster } from '../helpers/source-cluster.ts';
import { connectionInfo, toBranch } from '../../src/agent/branches/connection.ts';
import { buildServer } from '../../src/agent/http/build-server.ts';
import { OWNER_ROLE } from '../../src/agent/postgres/roles.ts';
import { createAuthenticator } from '../../src/agent/auth/authenticator.ts';
import { AuditLog } from '../../src/agent/audit.ts';
import { Metrics } from '../../src/agent/metrics.ts';
import { processRunner } from '../../src/agent/runner.ts';
import type { RunOptions } from '../../src/agent/runner.ts';

const MASK = {
  name: 'mask.sql',
  sql: `UPDATE customers SET email = 'customer' || id || '@masked.invalid', full_name = 'Customer ' || id;`,
};
const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;
const count = async (uri: string, table: string) => Number((await sql<{ n: string }>(uri, `SELECT count(*) AS n FROM ${table}`))[0].n);

describeWithPool('production-like data in main (source: a separate PostgreSQL 15 cluster)', () => {
  let src: SourceCluster;
  let e: TestEngine;
  let hook: ((step: string) => void) | null = null;
  const calls: { argv: readonly string[]; opts: RunOptions }[] = [];

  beforeAll(async () => {
    e = await openTestEngine('import', {
      templates: [{ name: 'main-masked', from: 'main', sql: [MASK] }],
      onStep: (step) => hook?.(step),
      runner: (argv, opts) => {
        calls.push({ argv, opts: opts ?? {} });
        return processRunner(argv, opts);
      },
    });
    src = await startSourceCluster(e.dataDir, testPortRange().from + 90);
  });

  afterAll(async () => {
    await src?.stop().catch(() => {});
    await e?.destroy();
  });

  describe('logical import into the embedded PostgreSQL 18', () => {
    it('reproduces row counts and schema, with progress', async () => {
      const rec = await e.builder.build({ mode: 'logical', sourceUrl: src.url, jobs: 2 });
      expect(rec).toMatchObject({ name: 'main', state: 'ready', database: 'shop', protected: true });
      expect(await count(uriOf(e, 'main'), 'customers')).toBe(500);
      expect(await count(uriOf(e, 'main'), 'orders')).toBe(3000);
      const cons = await sql<{ c: string }>(
        uriOf(e, 'main'),
        "SELECT conname AS c FROM pg_constraint WHERE contype <> 'n' AND conrelid IN ('customers'::regclass, 'orders'::regclass) ORDER BY 1",
      );
      expect(cons.map((r) => r.c)).toEqual([
        'customers_email_key',
        'customers_pkey',
        'orders_customer_id_fkey',
        'orders_pkey',
        'orders_total_check',
      ]);
      expect(await sql(uriOf(e, 'main'), "SELECT indexname FROM pg_indexes WHERE indexname = 'orders_customer'")).toHaveLength(1);
      expect(e.builder.progress).toMatchObject({ running: false, mode: 'logical', phase: 'done', tablesTotal: 2, tablesDone: 2 });
      // Restored by the superuser, handed over to the owner role that main's credentials are for.
      expect(e.manager.get('main').user).toBe(OWNER_ROLE);
      const owners = await sql(
        uriOf(e, 'main'),
        `SELECT DISTINCT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relnamespace = 'public'::regnamespace`,
      );
      expect(owners).toEqual([{ o: OWNER_ROLE }]);
      // pg_restore (as the postgres OS user) could be the superuser during the build only.
      const ident = await readFile(join(e.storage.volumePath('main'), 'pg_ident.conf'), 'utf8');
      expect(ident).toMatch(/^vela_agent "root" "postgres"$/m);
      expect(ident).not.toContain('"vela"');
      expect(e.builder.progress.bytesDone).toBeGreaterThan(0);
    });

    it('pg_dump and pg_restore ran as the postgres OS user with a minimal environment', async () => {
      const [, , uid, gid] = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('vela:'))!
        .split(':');
      const vela = { uid: Number(uid), gid: Number(gid) };
      const tools = calls.filter((c) => /\/(pg_dump|pg_restore)$/.test(c.argv[0]) && !c.argv.includes('--version'));
      expect(tools.map((c) => c.argv[0].split('/').pop())).toEqual(['pg_dump', 'pg_restore', 'pg_restore']);
      for (const c of tools) {
        expect(c.opts).toMatchObject({ uid: vela.uid, gid: vela.gid });
        expect(c.opts.env).not.toHaveProperty('HOME');
        for (const k of Object.keys(c.opts.env!))
          expect(['PATH', 'LC_ALL', 'PGCONNECT_TIMEOUT', 'PGPASSWORD', 'PGHOST', 'PGPORT', 'PGUSER']).toContain(k);
        expect(c.argv.join(' ')).not.toContain('owner-pw-1');
      }
    });

    it('a source URL without a password never uses the agent’s own .pgpass; a parameter off the list is a 400', async () => {
      const pgpass = join(e.dataDir, 'root-pgpass');
      await writeFile(pgpass, `*:*:*:app_owner:owner-pw-1\n`, { mode: 0o600 });
      process.env.PGPASSFILE = pgpass;
      try {
        const noPw = await e.builder.build({ mode: 'logical', sourceUrl: src.url.replace(':owner-pw-1', '') }).catch((x) => x);
        expect(noPw).toMatchObject({ status: 502, code: 'source_auth_failed' });
        expect(noPw.message).toMatch(/asks for a password: put it in the URL/);
      } finally {
        delete process.env.PGPASSFILE;
      }
      const param = await e.builder.build({ mode: 'logical', sourceUrl: `${src.url}?passfile=/root/.pgpass` }).catch((x) => x);
      expect(param).toMatchObject({ status: 400 });
      expect(param.message).toMatch(/"passfile" not allowed/);
      expect(await count(uriOf(e, 'main'), 'customers')).toBe(500);
    });

    it('main-masked holds no unmasked PII from the source', async () => {
      const masked = e.manager.get('main-masked');
      expect(masked).toMatchObject({ state: 'ready', protected: true, parent: 'main' });
      const srcRows = await src.sql('SELECT email, full_name FROM customers');
      const maskedRows = await sql<{ email: string; full_name: string }>(uriOf(e, 'main-masked'), 'SELECT email, full_name FROM customers');
      expect(maskedRows).toHaveLength(500);
      const leakedEmails = new Set(srcRows.map((r) => r.email));
      const leakedNames = new Set(srcRows.map((r) => r.full_name));
      expect(maskedRows.filter((r) => leakedEmails.has(r.email) || leakedNames.has(r.full_name))).toEqual([]);
      // main itself still has the real data; a branch of the masked parent has the masked data
      expect(await count(uriOf(e, 'main'), "customers WHERE email LIKE '%@real-mail.example'")).toBe(500);
      await e.manager.create({ name: 'qa-masked', parent: 'main-masked' });
      expect(await count(uriOf(e, 'qa-masked'), "customers WHERE email LIKE '%@real-mail.example'")).toBe(0);
    });

    it('a token limited to main-masked cannot branch from main (403, audited)', async () => {
      const server = buildServer({
        manager: e.manager,
        builder: e.builder,
        auth: createAuthenticator({
          tokens: [{ name: 'qa', token: 'qa-token-only-masked-0001', scope: 'write', parents: ['main-masked'] }],
        }),
        audit: new AuditLog(join(e.dataDir, 'state', 'audit-import.jsonl')),
        metrics: new Metrics(),
        publicHost: '127.0.0.1',
        version: 'test',
        checkAnswers: true,
      });
      const headers = { authorization: 'Bearer qa-token-only-masked-0001' };
      const refused = await server.inject({ method: 'POST', url: '/v1/branches', headers, payload: { name: 'qa-2', parent: 'main' } });
      expect(refused.statusCode).toBe(403);
      const ok = await server.inject({ method: 'POST', url: '/v1/branches', headers, payload: { name: 'qa-2', parent: 'main-masked' } });
      expect(ok.statusCode).toBe(201);
      const audit = (await server.inject({ method: 'GET', url: '/v1/audit', headers })).json().records;
      expect(audit.find((r: { status: number }) => r.status === 403)).toMatchObject({
        actor: 'token:qa',
        result: 'denied',
        branch: 'qa-2',
      });
      await server.close();
      await e.manager.delete('qa-2');
    });

    it('refresh while branches exist: old branches unchanged, new branches and the masked parent see the new data', async () => {
      await e.manager.create({ name: 'before' });
      await src.sql("INSERT INTO customers(email, full_name) VALUES ('new@real-mail.example', 'New Person')");
      const mainUri = uriOf(e, 'main');
      await e.builder.refresh();
      expect(uriOf(e, 'main')).toBe(mainUri); // same port and credentials
      expect(await count(uriOf(e, 'main'), 'customers')).toBe(501);
      expect(await count(uriOf(e, 'before'), 'customers')).toBe(500);
      await e.manager.create({ name: 'after' });
      expect(await count(uriOf(e, 'after'), 'customers')).toBe(501);
      expect(await count(uriOf(e, 'main-masked'), 'customers')).toBe(501);
      expect(await count(uriOf(e, 'main-masked'), "customers WHERE email LIKE '%@real-mail.example'")).toBe(0);
      expect(await count(uriOf(e, 'qa-masked'), 'customers')).toBe(500); // a branch of the old masked parent keeps its data
    });

    it('a refresh that dies before the swap leaves the previous main serving', async () => {
      await src.sql("INSERT INTO customers(email, full_name) VALUES ('newer@real-mail.example', 'Newer Person')");
      hook = (step) => {
        if (step === 'root-built') throw new Error('simulated crash after the build');
      };
      await expect(e.builder.refresh()).rejects.toThrow(/simulated crash/);
      hook = null;
      expect(await count(uriOf(e, 'main'), 'customers')).toBe(501);
      expect(await e.manager.storage.listStaging()).toEqual([]);
    });

    it('a refresh killed in the middle of the swap: the next start puts the previous main back', async () => {
      hook = (step) => {
        if (step === 'root-swapping') throw new Error('simulated kill between the renames');
      };
      await expect(e.builder.refresh()).rejects.toThrow(/simulated kill/);
      hook = null;
      expect(await e.manager.storage.listStaging()).toEqual(['.next-main', '.old-main']);
      e = await e.reopen();
      expect(await e.manager.storage.listStaging()).toEqual([]);
      expect(e.manager.get('main').state).toBe('ready');
      expect(await count(uriOf(e, 'main'), 'customers')).toBe(501);
      expect(await count(uriOf(e, 'before'), 'customers')).toBe(500);
    });

    it('an unreachable source, wrong credentials or a version mismatch: one clear error, main untouched', async () => {
      const before = uriOf(e, 'main');
      const unreachable = await e.builder
        .build({ mode: 'logical', sourceUrl: 'postgresql://app_owner:owner-pw-1@127.0.0.1:1/shop' })
        .catch((x) => x);
      expect(unreachable).toMatchObject({ status: 502, code: 'source_unreachable' });
      expect(unreachable.message).toMatch(/cannot reach the source database app_owner@127.0.0.1:1\/shop \(ECONNREFUSED\)/);
      const badPw = await e.builder.build({ mode: 'logical', sourceUrl: src.url.replace('owner-pw-1', 'wrong-pw-9') }).catch((x) => x);
      expect(badPw).toMatchObject({ status: 502, code: 'source_auth_failed' });
      expect(badPw.message).toMatch(/wrong password/);
      expect(badPw.message).not.toContain('wrong-pw-9');
      const mismatch = await e.builder.build({ mode: 'physical', sourceUrl: src.replicationUrl }).catch((x) => x);
      expect(mismatch).toMatchObject({ status: 400 });
      expect(mismatch.message).toMatch(/same major version: the source .* is PostgreSQL 15, this agent runs PostgreSQL 18/);
      expect(uriOf(e, 'main')).toBe(before);
      expect(await count(before, 'customers')).toBe(501);
      expect(await e.manager.storage.listStaging()).toEqual([]);
    });
  });
});

describeWithPool('a streaming physical replica as main (agent on PostgreSQL 15, like its source)', () => {
  let src: SourceCluster;
  let e: TestEngine;

  beforeAll(async () => {
    e = await openTestEngine('replica', { pgBin: '/usr/lib/postgresql/15/bin' });
    src = await startSourceCluster(e.dataDir, testPortRange().from + 90);
  });

  afterAll(async () => {
    await e?.destroy();
  });

  const waitForRow = async (branch: string, email: string, ms = 10_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const rows = await adminSql(e, branch, `SELECT 1 FROM customers WHERE email = '${email}'`, 'shop');
      if (rows.length) return Date.now() - (end - ms);
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  };

  it('main is a hot standby that shows a row inserted on the source within seconds, and its lag', async () => {
    const rec = await e.builder.build({ mode: 'physical', sourceUrl: src.replicationUrl });
    expect(rec).toMatchObject({ state: 'ready', standby: true, database: 'shop', user: 'replicator' });
    await src.sql("INSERT INTO customers(email, full_name) VALUES ('streamed@real-mail.example', 'Streamed')");
    const ms = await waitForRow('main', 'streamed@real-mail.example');
    expect(ms).not.toBeNull();
    expect(ms!).toBeLessThan(5000);
    const lag = await e.manager.replicationLag(e.manager.get('main'));
    expect(lag).not.toBeNull();
    expect(lag!.lagBytes).toBeGreaterThanOrEqual(0);
  });

  it('a branch of the standby is promoted and writable while main keeps streaming', async () => {
    const { record } = await e.manager.create({ name: 'from-replica' });
    expect(record.password).not.toBe('repl-pw-1');
    // The branch hands out its owner role, which took over the source's objects: migrations work.
    expect(record.user).toBe(OWNER_ROLE);
    const uri = connectionInfo(record, '127.0.0.1').uri;
    await sql(uri, "INSERT INTO customers(email, full_name) VALUES ('branch-only@x.invalid', 'Branch')");
    await sql(uri, 'ALTER TABLE customers ADD COLUMN phone text; CREATE INDEX customers_phone ON customers(phone)');
    expect(await sql(uri, 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).toEqual([{ rolsuper: false }]);
    // The source's own logins got fresh passwords: the source's password opens nothing here.
    const asSource = uri.replace(/\/\/[^@]+@/, '//app_owner:owner-pw-1@');
    await expect(sql(asSource, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    expect(await count(uri, 'customers')).toBe(502);
    await src.sql("INSERT INTO customers(email, full_name) VALUES ('after-branch@real-mail.example', 'After')");
    expect(await waitForRow('main', 'after-branch@real-mail.example')).not.toBeNull();
    expect(
      await adminSql(e, 'from-replica', "SELECT 1 FROM customers WHERE email = 'after-branch@real-mail.example'", 'shop'),
    ).toHaveLength(0);
    expect(await adminSql(e, 'main', "SELECT 1 FROM customers WHERE email = 'branch-only@x.invalid'", 'shop')).toHaveLength(0);
    // The branch must not carry the upstream's replication password.
    const auto = await readFile(join(e.manager.storage.volumePath('from-replica'), 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/primary_conninfo|repl-pw-1/);
  });

  it('a source URL without a password (trust on the source) builds a streaming main; no answer carries the source credentials', async () => {
    await src.trust('replicator');
    const url = src.replicationUrl.replace(':repl-pw-1', '');
    const rec = await e.builder.build({ mode: 'physical', sourceUrl: url });
    expect(rec).toMatchObject({ state: 'ready', standby: true, database: 'shop' });
    await src.sql("INSERT INTO customers(email, full_name) VALUES ('no-password@real-mail.example', 'Trust')");
    expect(await waitForRow('main', 'no-password@real-mail.example')).not.toBeNull();
    const view = toBranch(e.manager.get('main'), '127.0.0.1', true);
    expect(view.connection).toBeUndefined();
    expect(JSON.stringify(view)).not.toContain('repl-pw-1');
    const record = await readFile(join(e.dataDir, 'state', 'branches', 'main.json'), 'utf8');
    expect(record).not.toContain('repl-pw-1');
    // Its branches still work as ever: promoted, fresh passwords.
    const { record: child } = await e.manager.create({ name: 'from-trusted' });
    expect(await count(connectionInfo(child, '127.0.0.1').uri, 'customers')).toBeGreaterThan(500);
  });
});
