import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql, adminSql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { buildServer } from '../../src/agent/http/build-server.ts';
import { createAuthenticator } from '../../src/agent/auth/authenticator.ts';
import { AuditLog } from '../../src/agent/audit.ts';
import { Metrics } from '../../src/agent/metrics.ts';
import { diffResult } from '../../src/core/api/responses.ts';
import { BranchDiffer } from '../../src/agent/diff/branch-diff.ts';
import { VelaError } from '../../src/core/errors.ts';
import type { ChangeLogReader } from '../../src/agent/capture/change-log-types.ts';

const ADMIN = 'diff-test-admin-token-0123456789';
const READER = 'diff-test-reader-token-0123456789';
const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;

describeWithPool('schema and data diff of a branch against its parent (real postgres on btrfs)', () => {
  let e: TestEngine;
  let server: FastifyInstance;
  const diff = async (name: string, query = '', token = ADMIN) => {
    const r = await server.inject({
      method: 'GET',
      url: `/v1/branches/${name}/diff${query}`,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: r.statusCode, body: r.json() };
  };

  beforeAll(async () => {
    e = await openTestEngine('diff');
    server = buildServer({
      manager: e.manager,
      builder: e.builder,
      differ: e.differ,
      auth: createAuthenticator({ adminToken: ADMIN, tokens: [{ name: 'reader', token: READER, scope: 'read' }] }),
      audit: new AuditLog(join(e.dataDir, 'state', 'audit.jsonl')),
      metrics: new Metrics(),
      publicHost: '127.0.0.1',
      version: 'test',
      checkAnswers: true,
    });
    await server.ready();
    await sql(
      uriOf(e, 'main'),
      `CREATE TYPE mood AS ENUM ('calm', 'busy');
       CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE, mood mood DEFAULT 'calm');
       CREATE TABLE orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint REFERENCES users(id), total numeric(10,2) CHECK (total >= 0));
       CREATE INDEX orders_user ON orders (user_id);
       CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
       CREATE FUNCTION bump(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1';
       INSERT INTO users (name, email) SELECT 'u' || g, 'u' || g || '@example.com' FROM generate_series(1, 20) g;`,
    );
    await e.manager.create({ name: 'feature' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await e?.close({ stopBranches: true });
    await e?.destroy();
  });

  it('a fresh branch has no schema changes', async () => {
    const r = await diff('feature');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ sql: '', summary: [] });
  });

  it('a table, a column, an index and a view: SQL that, run on the parent as its owner, makes the schemas equal', async () => {
    await sql(
      uriOf(e, 'feature'),
      `CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL UNIQUE, price numeric(8,2) DEFAULT 0, owner bigint REFERENCES users(id));
       ALTER TABLE users ADD COLUMN nickname text DEFAULT 'anon';
       CREATE INDEX users_lower_name ON users (lower(name));
       CREATE VIEW user_items AS SELECT u.id, u.nickname, count(i.*) AS n FROM users u LEFT JOIN items i ON i.owner = u.id GROUP BY 1, 2;
       CREATE OR REPLACE FUNCTION bump(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 2';
       ALTER TYPE mood ADD VALUE 'away';
       DROP VIEW big_orders;
       CREATE DOMAIN sku_code AS text CHECK (VALUE ~ '^[A-Z0-9-]+$');
       CREATE TABLE skus (code sku_code PRIMARY KEY, note text);
       CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'touched'; RETURN NEW; END $$;
       CREATE TRIGGER skus_touch BEFORE INSERT ON skus FOR EACH ROW EXECUTE FUNCTION touch();
       ALTER TABLE items ENABLE ROW LEVEL SECURITY;
       CREATE POLICY cheap ON items FOR SELECT USING (price < 100);`,
    );
    // What change capture keeps in a branch is the agent's: it never shows in a diff.
    await adminSql(
      e,
      'feature',
      `CREATE SCHEMA IF NOT EXISTS _vela;
       CREATE TABLE IF NOT EXISTS _vela.difftest_log (id bigserial PRIMARY KEY, ddl text);
       CREATE OR REPLACE FUNCTION _vela.difftest_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
       CREATE EVENT TRIGGER vela_difftest_ddl ON ddl_command_end EXECUTE FUNCTION _vela.difftest_ddl();`,
      e.manager.get('feature').database,
    );
    const r = await diff('feature');
    expect(r.status).toBe(200);
    expect(diffResult.safeParse(r.body).success).toBe(true);
    expect(r.body.summary).toEqual(
      expect.arrayContaining([
        'table public.items added',
        'column public.users.nickname added',
        'index public.users_lower_name added',
        'view public.user_items added',
        'view public.big_orders dropped',
        'function public.bump(x integer) changed',
        'type public.mood changed',
        'constraint public.items.items_owner_fkey added',
        'type public.sku_code added',
        'trigger public.skus.skus_touch added',
        'policy public.items.cheap added',
      ]),
    );
    expect(r.body.objects.tables).toEqual({ added: ['public.items', 'public.skus'], dropped: [], changed: [] });
    expect(r.body.objects.columns.added).toEqual(['public.users.nickname']); // the new table's columns are part of it
    expect(JSON.stringify(r.body)).not.toMatch(/_vela|difftest/);
    expect(r.body.sql).toContain('ALTER TABLE "public"."items" ENABLE ROW LEVEL SECURITY;');

    // The migration, applied to the parent by its owner role in one transaction, leaves nothing to diff.
    await sql(uriOf(e, 'main'), `BEGIN;\n${r.body.sql}\nCOMMIT;`);
    const again = await diff('feature');
    expect(again.body).toMatchObject({ sql: '', summary: [] });
    expect(again.body.objects).toEqual({});
  });

  it('data: rows the branch inserted, updated and deleted, per table, from its change log; ?rows=N samples keys', async () => {
    await sql(
      uriOf(e, 'feature'),
      `INSERT INTO items (id, sku, price) SELECT g, 'SKU-' || g, g FROM generate_series(1, 5) g;
       UPDATE users SET nickname = 'n' || id WHERE id <= 3;
       DELETE FROM users WHERE id IN (19, 20);
       UPDATE items SET price = price + 1 WHERE id = 1;`,
    );
    const r = await diff('feature');
    const counts = Object.fromEntries(
      (r.body.data as { table: { schema: string; name: string }; inserted: number; updated: number; deleted: number }[]).map((t) => [
        `${t.table.schema}.${t.table.name}`,
        [t.inserted, t.updated, t.deleted],
      ]),
    );
    // users' rows from before the fork are main's: only what the branch did counts.
    expect(counts).toEqual({ 'public.items': [5, 1, 0], 'public.users': [0, 3, 2] });
    expect(JSON.stringify(r.body.data)).not.toMatch(/_vela|sample/);
    const sampled = await diff('feature', '?rows=2');
    const users = sampled.body.data.find((t: { table: { name: string } }) => t.table.name === 'users');
    expect(users.sample).toHaveLength(2);
    expect(Object.keys(users.sample[0])).toEqual(['id']);
  });

  it('a dropped column and a changed column type come out as ALTERs the parent accepts', async () => {
    await sql(
      uriOf(e, 'feature'),
      `ALTER TABLE orders DROP COLUMN total; ALTER TABLE users ALTER COLUMN email TYPE varchar(200), ALTER COLUMN email SET NOT NULL;
       DROP VIEW user_items; CREATE VIEW user_items AS SELECT u.id FROM users u;`,
    );
    const r = await diff('feature');
    // The CHECK on the dropped column went with it in the branch: the parent drops it explicitly first.
    expect(r.body.summary).toEqual([
      'column public.orders.total dropped',
      'column public.users.email changed',
      'constraint public.orders.orders_total_check dropped',
      'view public.user_items changed',
    ]);
    // A view that lost columns cannot be replaced in place: dropped and created again.
    expect(r.body.sql).toContain('DROP VIEW "public"."user_items";');
    expect(r.body.sql).toContain('ALTER TABLE "public"."users" ALTER COLUMN "email" TYPE character varying(200)');
    await sql(uriOf(e, 'main'), `BEGIN;\n${r.body.sql}\nCOMMIT;`);
    expect((await diff('feature')).body.summary).toEqual([]);
  });

  it('bad rows is a 400 naming it; main has no parent; a stopped parent is a 409 naming it', async () => {
    for (const q of ['?rows=abc', '?rows=-1', '?rows=1000', '?nope=1']) {
      const r = await diff('feature', q);
      expect(r.status, q).toBe(400);
      expect(r.body.error.message, q).toMatch(q.startsWith('?nope') ? /nope/ : /rows/);
    }
    // A reader sees the schema diff and the counts, but sample keys are data: only for writers.
    expect((await diff('feature', '', READER)).status).toBe(200);
    const keys = await diff('feature', '?rows=2', READER);
    expect(keys.status).toBe(403);
    expect(keys.body.error.message).toMatch(/rows \(sample keys\) needs a token allowed to write branch feature/);
    expect((await diff('feature', '?rows=2')).status).toBe(200);
    expect((await diff('main')).status).toBe(409);
    expect((await diff('nothere')).status).toBe(404);
    await e.manager.stop('main');
    try {
      const r = await diff('feature');
      expect(r.status).toBe(409);
      expect(r.body.error.message).toMatch(/parent main of feature is stopped: start it/);
    } finally {
      await e.manager.start('main');
    }
    expect((await diff('feature')).status).toBe(200);
  });

  it('data: the change log reader is asked for the branch with ?rows as its sample; no rows, no sample keys', async () => {
    const asked: unknown[] = [];
    const reader: ChangeLogReader = {
      transactions: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true as const, value: undefined }) }) }),
      counts: async (branch, opts) => {
        asked.push({ branch, ...opts });
        return [{ table: { schema: 'public', name: 'items' }, inserted: 2, updated: 1, deleted: 0, sample: [{ id: '1' }] }];
      },
    };
    const differ = new BranchDiffer({ manager: e.manager, pg: e.pg, changeLog: reader });
    expect((await differ.diff('feature')).data).toEqual([
      { table: { schema: 'public', name: 'items' }, inserted: 2, updated: 1, deleted: 0 },
    ]);
    expect((await differ.diff('feature', { rows: 3 })).data?.[0].sample).toEqual([{ id: '1' }]);
    expect(asked).toEqual([
      { branch: 'feature', sample: 0 },
      { branch: 'feature', sample: 3 },
    ]);
    expect(await new BranchDiffer({ manager: e.manager, pg: e.pg }).diff('feature')).toMatchObject({
      data: null,
      dataNote: 'this agent captures no changes',
    });
    // A branch without a usable change log (capture answers 409) still gets its schema diff.
    const refusing: ChangeLogReader = {
      ...reader,
      counts: () =>
        Promise.reject(new VelaError('conflict', 409, 'branch feature has no change log (made before change capture existed): reset it')),
    };
    const r = await new BranchDiffer({ manager: e.manager, pg: e.pg, changeLog: refusing }).diff('feature');
    expect(r).toMatchObject({ data: null, dataNote: expect.stringMatching(/made before change capture existed/) as unknown });
    expect(r).toMatchObject({ parent: 'main', sql: '', summary: [] }); // the schema diff is answered all the same
  });
});
