import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import type { Change } from '../../src/agent/capture/change-log-types.ts';
import {
  checksum as sumOf,
  ddl,
  FakeLog,
  FEATURE_WORK,
  int,
  ITEMS as T,
  PARENT_MOVES_ON,
  PARENT_SEED,
  txt,
} from '../helpers/rebase-log.ts';
import type { RebaseCapture } from '../../src/agent/branches/rebase.ts';
import type { VelaError } from '../../src/core/errors.ts';
import { join } from 'node:path';
import { buildServer } from '../../src/agent/http/build-server.ts';
import { createAuthenticator } from '../../src/agent/auth/authenticator.ts';
import { AuditLog } from '../../src/agent/audit.ts';
import { Metrics } from '../../src/agent/metrics.ts';
import { errorBody } from '../../src/core/api/index.ts';

describeWithPool('rebase replays a change log onto the parent (hand-written logs, real postgres)', () => {
  let e: TestEngine;
  const log = new FakeLog();
  const installed: string[] = [];
  const capture: RebaseCapture = { reader: log, install: async (rec) => void installed.push(rec.name) };
  const uri = (name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;
  const checksum = (name: string) => sumOf(uri(name));
  const conflictOf = async (name: string) => {
    const err = (await e.rebaser.rebase(name).catch((x: unknown) => x)) as VelaError;
    expect(err).toMatchObject({ status: 409 });
    return err;
  };

  beforeAll(async () => {
    e = await openTestEngine('rebase-replay', { capture });
    await sql(uri('main'), PARENT_SEED);
  });

  afterAll(async () => {
    await e?.destroy();
  });

  it('scenario: main gains a column and rows, the branch a table, inserts and updates → both, same connection string', async () => {
    await e.manager.create({ name: 'feature' });
    const before = uri('feature');
    // The branch's own work (run for real, and logged as capture would log it).
    for (const [statement, changes] of FEATURE_WORK) {
      await sql(before, statement);
      log.add('feature', changes);
    }
    await sql(uri('main'), PARENT_MOVES_ON);

    const rec = await e.rebaser.rebase('feature');
    expect(rec).toMatchObject({ state: 'ready', name: 'feature' });
    expect(rec.rebasing).toBeUndefined();
    expect(uri('feature')).toBe(before);
    const rows = await sql<{ id: number; name: string; price: number }>(before, 'SELECT id, name, price FROM items ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 100]);
    expect(rows.find((r) => r.id === 3)).toEqual({ id: 3, name: 'renamed', price: 7 });
    expect(rows.find((r) => r.id === 100)).toEqual({ id: 100, name: 'branch item', price: 7 });
    expect(await sql(before, 'SELECT id, body FROM notes')).toEqual([{ id: 1, body: 'hello' }]);
    // The new table is the owner's, as in the branch; capture went onto the new volume once.
    expect(await sql(before, "SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = 'notes'")).toEqual([{ o: 'vela_owner' }]);
    expect(installed).toEqual(['feature']);
    // Nothing left beside it.
    expect((await e.storage.listStaging()).filter((v) => v.includes('feature'))).toEqual([]);
  });

  it.each([
    {
      kind: 'insert_exists',
      parent: "INSERT INTO items VALUES (50, 'parent fifty')",
      branch: "INSERT INTO items VALUES (50, 'branch fifty')",
      changes: [{ kind: 'insert', table: T, row: [int('id', 50), txt('name', 'branch fifty')] }] as Change[],
      current: { id: '50', name: 'parent fifty' },
    },
    {
      kind: 'row_missing',
      parent: 'DELETE FROM items WHERE id = 2',
      branch: "UPDATE items SET name = 'branch two' WHERE id = 2",
      changes: [
        { kind: 'update', table: T, old: [int('id', 2), txt('name', 'item 2')], row: [int('id', 2), txt('name', 'branch two')] },
      ] as Change[],
      current: null,
    },
    {
      kind: 'row_changed',
      parent: "UPDATE items SET name = 'parent six' WHERE id = 6",
      branch: 'DELETE FROM items WHERE id = 6',
      changes: [{ kind: 'delete', table: T, old: [int('id', 6), txt('name', 'item 6')] }] as Change[],
      current: { id: '6', name: 'parent six' },
    },
    {
      kind: 'ddl_failed',
      parent: 'ALTER TABLE items ADD COLUMN colour text',
      branch: 'ALTER TABLE items ADD COLUMN colour text',
      changes: [ddl('ALTER TABLE items ADD COLUMN colour text')],
      current: null,
    },
  ])('conflict $kind: 409 naming it, the branch byte for byte as before and still serving', async (c) => {
    const name = `c-${c.kind.replace('_', '-')}`;
    await e.manager.create({ name });
    await sql(uri(name), c.branch);
    log.add(name, c.changes);
    // An earlier change that replays fine: the conflict must undo it too.
    await sql(uri(name), "INSERT INTO items VALUES (200, 'kept')");
    log.logs
      .get(name)!
      .unshift({ seq: 0, xid: '1', lsn: '0/0', changes: [{ kind: 'insert', table: T, row: [int('id', 200), txt('name', 'kept')] }] });
    await sql(uri('main'), c.parent);
    const sum = await checksum(name);
    const uriBefore = uri(name);

    const err = await conflictOf(name);
    expect(err.code).toBe('rebase_conflict');
    const conflicts = err.details!.conflicts as Array<Record<string, unknown>>;
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ kind: c.kind, current: c.current });
    if (c.kind !== 'ddl_failed') expect(conflicts[0]).toMatchObject({ table: 'public.items' });
    expect(String(conflicts[0].statement)).toMatch(c.kind === 'ddl_failed' ? /ADD COLUMN colour/ : /items/);
    expect(err.message).toMatch(new RegExp(`${c.kind}.*the branch is unchanged`));

    expect(e.manager.get(name)).toMatchObject({ state: 'ready' });
    expect(e.manager.get(name).rebasing).toBeUndefined();
    expect(uri(name)).toBe(uriBefore);
    expect(await checksum(name)).toBe(sum);
    expect((await e.storage.listStaging()).filter((v) => v.includes(name))).toEqual([]);
    await e.manager.delete(name);
    await sql(uri('main'), c.kind === 'ddl_failed' ? 'ALTER TABLE items DROP COLUMN colour' : 'SELECT 1');
  });

  it('a conflict inside a batch of row changes names its own row (the batch falls back row by row)', async () => {
    await e.manager.create({ name: 'batched' });
    await sql(
      uri('batched'),
      "INSERT INTO items SELECT g, 'b' || g FROM generate_series(1000, 1049) g; UPDATE items SET name = name || '!'",
    );
    const inserts: Change[] = Array.from({ length: 50 }, (_, i) => ({
      kind: 'insert',
      table: T,
      row: [int('id', 1000 + i), txt('name', `b${1000 + i}`)],
    }));
    log.add('batched', inserts);
    const rows = await sql<{ id: number; name: string }>(uri('main'), 'SELECT id, name FROM items ORDER BY id');
    log.add(
      'batched',
      rows.map((r) => ({
        kind: 'update',
        table: T,
        old: [int('id', r.id), txt('name', r.name)],
        row: [int('id', r.id), txt('name', `${r.name}!`)],
      })),
    );
    // Without a conflict the batches go through: every row updated once.
    const snapshot = await sumOf(uri('batched'));
    await e.rebaser.rebase('batched');
    expect(await sumOf(uri('batched'))).not.toBe(snapshot);
    expect((await sql<{ n: string }>(uri('batched'), "SELECT count(*) AS n FROM items WHERE name LIKE '%!'"))[0].n).toBe(
      String(rows.length),
    );
    // main takes key 1030: the 31st insert of the batch is the conflict, named with main's row.
    await sql(uri('main'), "INSERT INTO items VALUES (1030, 'main 1030')");
    const before = await sumOf(uri('batched'));
    const err = await conflictOf('batched');
    expect(err.details!.conflicts).toEqual([
      expect.objectContaining({
        kind: 'insert_exists',
        key: { id: '1030' },
        current: expect.objectContaining({ id: '1030', name: 'main 1030' }),
      }),
    ]);
    expect(await sumOf(uri('batched'))).toBe(before);
    await sql(uri('main'), 'DELETE FROM items WHERE id = 1030');
  });

  it('over HTTP: 200 with the branch and its unchanged connection, or a 409 body the API contract describes', async () => {
    const server = buildServer({
      manager: e.manager,
      builder: e.builder,
      rebaser: e.rebaser,
      auth: createAuthenticator({ adminToken: 'admin-token-for-rebase-tests-01', tokens: [] }),
      audit: new AuditLog(join(e.dataDir, 'state', 'audit.jsonl')),
      metrics: new Metrics(),
      publicHost: '127.0.0.1',
      version: 'test',
      checkAnswers: true,
    });
    const post = (name: string) =>
      server.inject({
        method: 'POST',
        url: `/v1/branches/${name}/rebase`,
        headers: { authorization: 'Bearer admin-token-for-rebase-tests-01' },
        payload: {},
      });
    try {
      await e.manager.create({ name: 'http-1' });
      const ok = await post('http-1');
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ name: 'http-1', state: 'ready', connection: { uri: uri('http-1') } });
      expect(ok.json().timings.rebaseMs).toBeGreaterThan(0);
      await sql(uri('http-1'), "INSERT INTO items VALUES (77, 'b')");
      log.add('http-1', [{ kind: 'insert', table: T, row: [int('id', 77), txt('name', 'b')] }]);
      await sql(uri('main'), "INSERT INTO items (id, name) VALUES (77, 'm')");
      const refused = await post('http-1');
      expect(refused.statusCode).toBe(409);
      const body = errorBody.parse(refused.json());
      expect(body.error.code).toBe('rebase_conflict');
      expect(body.error.conflicts).toEqual([
        {
          kind: 'insert_exists',
          table: 'public.items',
          key: { id: '77' },
          statement: "INSERT INTO public.items (id, name) VALUES ('77', 'b')",
          current: expect.objectContaining({ id: '77', name: 'm' }),
          message: expect.stringMatching(/^the parent already has this row: duplicate key value/),
          seq: 1,
        },
      ]);
    } finally {
      await server.close();
    }
  });

  it('a stopped branch is started and rebased; main and a missing branch are refused naming why', async () => {
    await e.manager.create({ name: 'sleepy' });
    await sql(uri('sleepy'), "INSERT INTO items VALUES (300, 'sleepy')");
    log.add('sleepy', [{ kind: 'insert', table: T, row: [int('id', 300), txt('name', 'sleepy')] }]);
    await e.manager.stop('sleepy');
    expect(await e.rebaser.rebase('sleepy')).toMatchObject({ state: 'ready' });
    expect(await sql(uri('sleepy'), 'SELECT name FROM items WHERE id = 300')).toEqual([{ name: 'sleepy' }]);
    await expect(e.rebaser.rebase('main')).rejects.toMatchObject({ status: 409, message: 'branch main has no parent to rebase onto' });
    await expect(e.rebaser.rebase('nope')).rejects.toMatchObject({ status: 404, message: 'branch nope does not exist' });
  });

  it('replayed DDL never gets superuser rights: a function that resets the role to escalate fails as the owner', async () => {
    await e.manager.create({ name: 'sneaky' });
    const fn = `CREATE FUNCTION grab() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RESET ROLE; ALTER ROLE vela_owner SUPERUSER; RETURN 1; END $$`;
    await sql(uri('sneaky'), fn);
    log.add('sneaky', [ddl(fn)]);
    log.add('sneaky', [ddl('CREATE TABLE boom AS SELECT grab() AS x')]);
    const err = await conflictOf('sneaky');
    expect(err.details!.conflicts).toEqual([
      expect.objectContaining({ kind: 'ddl_failed', message: expect.stringMatching(/permission denied|must be superuser/) }),
    ]);
    const su = await e.pg.withClient(
      e.manager.get('sneaky').port,
      async (c) => (await c.query("SELECT rolsuper FROM pg_roles WHERE rolname = 'vela_owner'")).rows,
    );
    expect(su).toEqual([{ rolsuper: false }]);
    // The grant the replay had is gone with its volume; the branch's owner never had it.
    expect(await sql(uri('sneaky'), 'SELECT count(*)::int AS n FROM pg_parameter_acl')).toEqual([{ n: 0 }]);
  });

  it('tables without a key are refused before anything is replayed, each named', async () => {
    await e.manager.create({ name: 'keyless' });
    await sql(uri('keyless'), "CREATE TABLE bag (v text); INSERT INTO bag VALUES ('a'); UPDATE bag SET v = 'b'");
    const bag = { schema: 'public', name: 'bag' };
    log.add('keyless', [ddl('CREATE TABLE bag (v text)')]);
    log.add('keyless', [{ kind: 'insert', table: bag, row: [txt('v', 'a')] }]);
    log.add('keyless', [{ kind: 'update', table: bag, old: null, row: [txt('v', 'b')] }]);
    const err = await conflictOf('keyless');
    expect(err.message).toMatch(/tables without a key cannot be replayed: public\.bag/);
    expect(err.details!.conflicts).toEqual([expect.objectContaining({ kind: 'no_key', table: 'public.bag' })]);
    expect(await sql(uri('keyless'), 'SELECT v FROM bag')).toEqual([{ v: 'b' }]);
  });
});
