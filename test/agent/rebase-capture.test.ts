import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { checksum, FEATURE_WORK, PARENT_MOVES_ON, PARENT_SEED } from '../helpers/rebase-log.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import type { VelaError } from '../../src/core/errors.ts';

/** The scenario and conflicts end to end: the branch's owner writes over TCP, capture logs it, rebase replays it. */
describeWithPool('rebase with real change capture (owner role writes, logical decoding, real postgres)', () => {
  let e: TestEngine;
  const uri = (name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;
  const ids = async (name: string) => (await sql<{ id: number }>(uri(name), 'SELECT id FROM items ORDER BY id')).map((r) => r.id);

  /** A rebase that must stop: its conflicts, after checking the branch kept every byte and its connection string. */
  async function refused(name: string): Promise<Array<Record<string, unknown>>> {
    const sum = await checksum(uri(name));
    const before = uri(name);
    const err = (await e.rebaser.rebase(name).catch((x: unknown) => x)) as VelaError;
    expect(err).toMatchObject({ status: 409, code: 'rebase_conflict' });
    expect(e.manager.get(name)).toMatchObject({ state: 'ready' });
    expect(uri(name)).toBe(before);
    expect(await checksum(uri(name))).toBe(sum);
    return err.details!.conflicts as Array<Record<string, unknown>>;
  }

  beforeAll(async () => {
    e = await openTestEngine('rebase-capture');
    await sql(uri('main'), PARENT_SEED);
  });

  afterAll(async () => {
    await e?.destroy();
  });

  it('scenario: main gains a column and rows, feature a table, inserts and updates → rebase has both, same connection string', async () => {
    await e.manager.create({ name: 'feature' });
    for (const c of ['dup', 'gone', 'col']) await e.manager.create({ name: `c-${c}` });
    const before = uri('feature');
    for (const [statement] of FEATURE_WORK) await sql(before, statement);
    await sql(uri('main'), PARENT_MOVES_ON);

    const rec = await e.rebaser.rebase('feature');
    expect(rec).toMatchObject({ state: 'ready' });
    expect(uri('feature')).toBe(before);
    expect(await ids('feature')).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 100]);
    expect(await sql(before, 'SELECT name, price FROM items WHERE id IN (3, 100) ORDER BY id')).toEqual([
      { name: 'renamed', price: 7 },
      { name: 'branch item', price: 7 },
    ]);
    expect(await sql(before, 'SELECT id, body FROM notes')).toEqual([{ id: 1, body: 'hello' }]);

    // The log keeps the branch's own changes: more work and a second rebase keep all of it, nothing twice.
    await sql(before, "INSERT INTO notes VALUES (2, 'again')");
    await sql(uri('main'), "INSERT INTO items VALUES (13, 'item 13', 9)");
    await e.rebaser.rebase('feature');
    expect(await ids('feature')).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 100]);
    expect(await sql(before, 'SELECT id FROM notes ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('the same primary key inserted on both sides: 409 insert_exists with the parent’s row', async () => {
    await sql(uri('c-dup'), "INSERT INTO items VALUES (50, 'branch fifty')");
    await sql(uri('main'), "INSERT INTO items VALUES (50, 'main fifty', 1)");
    const [c] = await refused('c-dup');
    expect(c).toMatchObject({ kind: 'insert_exists', table: 'public.items', key: { id: '50' } });
    expect(c.current).toMatchObject({ id: '50', name: 'main fifty' });
  });

  it('a row updated in the branch and deleted in the parent: 409 row_missing', async () => {
    await sql(uri('c-gone'), "UPDATE items SET name = 'branch two' WHERE id = 2");
    await sql(uri('main'), 'DELETE FROM items WHERE id = 2');
    const [c] = await refused('c-gone');
    expect(c).toMatchObject({ kind: 'row_missing', table: 'public.items', key: { id: '2' }, current: null });
  });

  it('the same column added on both sides: 409 ddl_failed naming the statement', async () => {
    await sql(uri('c-col'), 'ALTER TABLE items ADD COLUMN colour text');
    await sql(uri('main'), 'ALTER TABLE items ADD COLUMN colour text');
    const [c] = await refused('c-col');
    expect(c).toMatchObject({ kind: 'ddl_failed' });
    expect(c.statement).toMatch(/ADD COLUMN colour/i);
    expect(c.message).toMatch(/already exists/);
  });
});
