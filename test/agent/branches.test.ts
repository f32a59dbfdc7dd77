import { afterAll, beforeAll, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql, adminSql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { processesUnder } from '../../src/agent/postgres/processes.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';

const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;

describeWithPool('branch manager on a real btrfs pool', () => {
  let e: TestEngine;

  beforeAll(async () => {
    e = await openTestEngine('branches');
    await sql(
      uriOf(e, 'main'),
      `
      CREATE EXTENSION hstore;
      CREATE TABLE accounts (
        id bigserial PRIMARY KEY,
        email text NOT NULL UNIQUE CHECK (email LIKE '%@%'),
        owner text NOT NULL DEFAULT current_user,
        attrs hstore,
        balance numeric NOT NULL DEFAULT 0 CHECK (balance >= 0)
      );
      CREATE TABLE audit (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts(id), note text);
      CREATE FUNCTION log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO audit(account_id, note) VALUES (NEW.id, 'created'); RETURN NEW; END $$;
      CREATE TRIGGER accounts_log AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION log_insert();
      CREATE ROLE app LOGIN PASSWORD 'parent-secret';
      GRANT SELECT, INSERT ON accounts TO app;
      GRANT USAGE ON SEQUENCE accounts_id_seq TO app;
      ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_rows ON accounts FOR SELECT TO app USING (owner = current_user);
      INSERT INTO accounts(email, attrs) SELECT 'user' || g || '@example.com', 'tier=>gold' FROM generate_series(1, 100) g;
    `,
    );
  });

  afterAll(async () => {
    await e?.destroy();
  });

  it('creates a ready branch with its own port and credentials, fast', async () => {
    const { record, created } = await e.manager.create({ name: 'feature-a' });
    expect(created).toBe(true);
    expect(record.state).toBe('ready');
    expect(record.port).not.toBe(e.manager.get('main').port);
    expect(record.password).not.toBe(e.manager.get('main').password);
    expect(record.timings.createMs).toBeGreaterThan(0);
    const rows = await sql<{ n: string }>(uriOf(e, 'feature-a'), 'SELECT count(*) AS n FROM accounts');
    expect(Number(rows[0].n)).toBe(100);
  });

  it('keeps writes in a branch invisible to its parent and siblings', async () => {
    await e.manager.create({ name: 'feature-b' });
    await sql(uriOf(e, 'feature-a'), "INSERT INTO accounts(email) VALUES ('only-in-a@example.com')");
    const inA = await sql(uriOf(e, 'feature-a'), "SELECT 1 FROM accounts WHERE email = 'only-in-a@example.com'");
    const inMain = await sql(uriOf(e, 'main'), "SELECT 1 FROM accounts WHERE email = 'only-in-a@example.com'");
    const inB = await sql(uriOf(e, 'feature-b'), "SELECT 1 FROM accounts WHERE email = 'only-in-a@example.com'");
    expect([inA.length, inMain.length, inB.length]).toEqual([1, 0, 0]);
  });

  it('branches a branch', async () => {
    const { record } = await e.manager.create({ name: 'feature-a-sub', parent: 'feature-a' });
    expect(record.parent).toBe('feature-a');
    const rows = await sql(uriOf(e, 'feature-a-sub'), "SELECT 1 FROM accounts WHERE email = 'only-in-a@example.com'");
    expect(rows).toHaveLength(1);
  });

  it('holds constraints, triggers, RLS, extensions and sequences of the parent', async () => {
    const uri = uriOf(e, 'feature-b');
    await expect(sql(uri, "INSERT INTO accounts(email) VALUES ('no-at-sign')")).rejects.toThrow(/check constraint/);
    await expect(sql(uri, "INSERT INTO accounts(email) VALUES ('user1@example.com')")).rejects.toThrow(/duplicate key/);
    await expect(sql(uri, 'INSERT INTO audit(account_id, note) VALUES (999999, $1)', ['x'])).rejects.toThrow(/foreign key/);
    const [ins] = await sql<{ id: string }>(uri, "INSERT INTO accounts(email, attrs) VALUES ('new@example.com', 'a=>1') RETURNING id");
    // The sequence continues from the parent's value (the two refused account inserts above each took one).
    expect(Number(ins.id)).toBe(103);
    const [mainSeq] = await sql<{ last_value: string }>(uriOf(e, 'main'), 'SELECT last_value FROM accounts_id_seq');
    expect(Number(mainSeq.last_value)).toBe(100);
    const trig = await sql(uri, 'SELECT note FROM audit WHERE account_id = $1', [ins.id]);
    expect(trig).toEqual([{ note: 'created' }]);
    const ext = await sql(uri, "SELECT (attrs -> 'a') AS a FROM accounts WHERE id = $1", [ins.id]);
    expect(ext).toEqual([{ a: '1' }]);
    // RLS: the app role sees only its own rows (none: all rows were inserted by the owner role).
    await adminSql(e, 'feature-b', "ALTER ROLE app PASSWORD 'branch-secret'");
    const asApp = connectionInfo(e.manager.get('feature-b'), '127.0.0.1').uri.replace(/\/\/[^:/]+:[^@]+@/, '//app:branch-secret@');
    expect(await sql(asApp, 'SELECT * FROM accounts')).toHaveLength(0);
    // No INSERT policy exists for app, so RLS refuses its writes in the branch as in the parent.
    await expect(sql(asApp, "INSERT INTO accounts(email) VALUES ('app@example.com')")).rejects.toThrow(/row-level security/);
    expect(await adminSql(e, 'feature-b', "SELECT relrowsecurity FROM pg_class WHERE relname = 'accounts'")).toEqual([
      { relrowsecurity: true },
    ]);
  });

  it("gives every login role fresh secrets: the parent's passwords do not open the child", async () => {
    const parentPw = connectionInfo(e.manager.get('main'), '127.0.0.1').uri;
    const childPort = e.manager.get('feature-a').port;
    const mainPort = e.manager.get('main').port;
    await expect(sql(parentPw.replace(`:${mainPort}/`, `:${childPort}/`), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    const appUri = `postgresql://app:parent-secret@127.0.0.1:${childPort}/postgres`;
    await expect(sql(appUri, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    expect(await sql(`postgresql://app:parent-secret@127.0.0.1:${mainPort}/postgres`, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('reset discards the branch writes and keeps its connection string working', async () => {
    const before = uriOf(e, 'feature-b');
    await sql(before, "INSERT INTO accounts(email) VALUES ('discard-me@example.com')");
    await e.manager.delete('feature-a-sub');
    const rec = await e.manager.reset('feature-b');
    expect(rec.state).toBe('ready');
    expect(uriOf(e, 'feature-b')).toBe(before);
    expect(await sql(before, "SELECT 1 FROM accounts WHERE email = 'discard-me@example.com'")).toHaveLength(0);
    // and it sees the parent's current state
    await sql(uriOf(e, 'main'), "INSERT INTO accounts(email) VALUES ('later-in-main@example.com')");
    await e.manager.reset('feature-b');
    expect(await sql(before, "SELECT 1 FROM accounts WHERE email = 'later-in-main@example.com'")).toHaveLength(1);
  });

  it('a fresh branch owns under 5 MB of the pool, and delete gives it back', async () => {
    await sql(uriOf(e, 'main'), 'CREATE TABLE bulk AS SELECT g, repeat(md5(g::text), 10) AS pad FROM generate_series(1, 200000) g');
    // CHECKPOINT is the agent's (superuser) business, not the branch role's.
    await adminSql(e, 'main', 'CHECKPOINT');
    await e.manager.storage.settle?.();
    const { record } = await e.manager.create({ name: 'space' });
    const exclusive = await e.manager.measure(record.name);
    expect(exclusive).not.toBeNull();
    expect(exclusive!).toBeLessThan(5 * 1024 * 1024);
    // Make the branch own real data, then delete it: the pool's used bytes drop again.
    await sql(uriOf(e, 'space'), 'CREATE TABLE own AS SELECT g, repeat(md5(g::text), 20) AS pad FROM generate_series(1, 300000) g');
    await adminSql(e, 'space', 'CHECKPOINT');
    await e.manager.storage.settle?.();
    const withData = (await e.manager.storage.usage()).usedBytes;
    await e.manager.delete('space');
    await e.manager.storage.settle?.();
    const after = (await e.manager.storage.usage()).usedBytes;
    expect(withData - after).toBeGreaterThan(50 * 1024 * 1024);
  });

  it('refuses to delete a branch with children unless cascade, and protects main', async () => {
    await e.manager.create({ name: 'parent-x' });
    await e.manager.create({ name: 'child-x', parent: 'parent-x' });
    await expect(e.manager.delete('parent-x')).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/children \(child-x\)/),
    });
    expect(e.manager.find('parent-x')?.state).toBe('ready');
    expect(await e.manager.delete('parent-x', { cascade: true })).toEqual(['child-x', 'parent-x']);
    await expect(e.manager.delete('main')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/protected/) });
    await expect(e.manager.reset('main')).rejects.toMatchObject({ status: 409 });
  });

  it('two concurrent creates of one name give one branch', async () => {
    const results = await Promise.allSettled([
      e.manager.create({ name: 'race', ifExists: 'return' }),
      e.manager.create({ name: 'race', ifExists: 'return' }),
      e.manager.create({ name: 'race', ifExists: 'fail' }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ created: boolean }>).value);
    expect(ok.filter((r) => r.created)).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    for (const r of rejected) expect(r.reason).toMatchObject({ status: 409 });
    expect((await e.manager.storage.list()).filter((v) => v === 'race')).toHaveLength(1);
    await e.manager.delete('race');
  });

  it('20 concurrent creates all end ready with distinct ports; deleting them leaves the pool as it was', async () => {
    const volumesBefore = await e.manager.storage.list();
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    const made = await Promise.all(names.map((name) => e.manager.create({ name })));
    expect(made.every((m) => m.record.state === 'ready')).toBe(true);
    expect(new Set(made.map((m) => m.record.port)).size).toBe(20);
    const counts = await Promise.all(names.map((n) => sql<{ n: string }>(uriOf(e, n), 'SELECT count(*) AS n FROM accounts')));
    expect(new Set(counts.map((c) => c[0].n)).size).toBe(1);
    await Promise.all(names.map((n) => e.manager.delete(n)));
    expect(await e.manager.storage.list()).toEqual(volumesBefore);
    for (const m of made) expect(await portIsFree(m.record.port)).toBe(true);
    const procs = await processesUnder(join(e.dataDir, 'pool'));
    expect(procs.filter((p) => p.argv.some((a) => a.includes('/many-')))).toEqual([]);
    const sockets = await readdir(join(e.dataDir, 'run'));
    expect(sockets.filter((s) => made.some((m) => String(m.record.port) === s))).toEqual([]);
  });

  it('TTL expiry deletes branches whose time is up, never protected ones', async () => {
    await e.manager.create({ name: 'short-lived', ttl: '1h' });
    expect(await e.manager.expire(new Date(Date.now() + 30 * 60_000))).toEqual([]);
    expect(await e.manager.expire(new Date(Date.now() + 2 * 3_600_000))).toContain('short-lived');
    expect(e.manager.find('short-lived')).toBeUndefined();
    expect(e.manager.find('main')?.state).toBe('ready');
  });

  it('bad input is refused and changes nothing', async () => {
    const before = e.manager.list().map((r) => r.name);
    await expect(e.manager.create({ name: '../etc' })).rejects.toMatchObject({ status: 400 });
    await expect(e.manager.create({ name: 'ok-name', parent: 'nope' })).rejects.toMatchObject({ status: 404 });
    await expect(e.manager.create({ name: 'ok-name', ttl: 'forever' })).rejects.toMatchObject({ status: 400 });
    expect(e.manager.list().map((r) => r.name)).toEqual(before);
    expect(await e.manager.storage.list()).toEqual(before.filter((n) => e.manager.get(n)).sort());
  });
});
