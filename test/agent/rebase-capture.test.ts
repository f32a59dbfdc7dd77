import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { checksum, FEATURE_WORK, PARENT_MOVES_ON, PARENT_SEED } from '../helpers/rebase-log.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import type { VelaError } from '../../src/core/errors.ts';
import { join } from 'node:path';
import { buildServer } from '../../src/agent/http/build-server.ts';
import { createAuthenticator } from '../../src/agent/auth/authenticator.ts';
import { AuditLog } from '../../src/agent/audit.ts';
import { Metrics } from '../../src/agent/metrics.ts';
import { runCli } from '../cli/helpers.ts';

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

  it('the CLI over HTTP: vela-branch rebase succeeds, then lists a conflict and exits 1 leaving the branch as it was', async () => {
    const token = 'admin-token-for-rebase-cli-test-1';
    const server = buildServer({
      manager: e.manager,
      builder: e.builder,
      rebaser: e.rebaser,
      auth: createAuthenticator({ adminToken: token, tokens: [] }),
      audit: new AuditLog(join(e.dataDir, 'state', 'audit.jsonl')),
      metrics: new Metrics(),
      publicHost: '127.0.0.1',
      version: 'test',
    });
    await server.listen({ host: '127.0.0.1', port: 0 });
    const addr = server.server.address() as { port: number };
    const env = { VELA_AGENT_URL: `http://127.0.0.1:${addr.port}`, VELA_TOKEN: token };
    try {
      await e.manager.create({ name: 'cli-1' });
      await sql(uri('cli-1'), "INSERT INTO items (id, name) VALUES (900, 'cli')");
      await sql(uri('main'), "INSERT INTO items (id, name) VALUES (901, 'main')");
      const ok = await runCli(['rebase', 'cli-1'], { env });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^✓ rebased cli-1 onto main in [\d.]+ (ms|s) \(agent\) · port \d+\n$/);
      expect((await ids('cli-1')).slice(-2)).toEqual([900, 901]);

      await sql(uri('cli-1'), "INSERT INTO items (id, name) VALUES (902, 'cli')");
      await sql(uri('main'), "INSERT INTO items (id, name) VALUES (902, 'main')");
      const sum = await checksum(uri('cli-1'));
      const refused = await runCli(['rebase', 'cli-1'], { env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/rebase of cli-1 stopped at change log transaction \d+: insert_exists on public\.items/);
      expect(refused.stderr).toContain('  ✗ insert_exists on public.items: the parent already has this key');
      expect(refused.stderr).toContain('      key: id=902');
      expect(refused.stderr).toMatch(/parent now: id=902, name=main/);
      expect(refused.stderr).toContain('  the branch was left exactly as it was');
      expect(await checksum(uri('cli-1'))).toBe(sum);
    } finally {
      await server.close();
    }
  });
});
