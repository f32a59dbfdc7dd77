import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql, adminSql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import type { CapturedTransaction, Change } from '../../src/agent/capture/change-log-types.ts';
import { assemble } from '../../src/agent/capture/assemble.ts';
import type { DecodedRow } from '../../src/agent/capture/assemble.ts';
import { SLOT_PREFIX } from '../../src/agent/capture/install-sql.ts';

const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;

async function all(e: TestEngine, branch: string): Promise<CapturedTransaction[]> {
  const out: CapturedTransaction[] = [];
  for await (const tx of e.changes.transactions(branch)) out.push(tx);
  return out;
}

const changesOf = (txs: CapturedTransaction[]): Change[] => txs.flatMap((t) => t.changes);
const val = (row: { name: string; value: string | null }[] | null, name: string) => row?.find((c) => c.name === name)?.value;

describeWithPool('change capture on a real branch', () => {
  let e: TestEngine;

  beforeAll(async () => {
    // No background draining: each test drains when it reads, so what it sees is deterministic.
    e = await openTestEngine('capture', { capturePollMs: 0 });
    await sql(
      uriOf(e, 'main'),
      `CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL, n int, note text);
       CREATE TABLE items (id int PRIMARY KEY, label text);
       INSERT INTO accounts(email, n) SELECT 'u' || g || '@x', g FROM generate_series(1, 10) g;
       INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g;`,
    );
  });

  afterAll(async () => {
    await e?.destroy();
  });

  it('installs capture before the branch is handed out; main does not capture', async () => {
    const { record } = await e.manager.create({ name: 'feat' });
    const slots = await adminSql(e, 'feat', 'SELECT slot_name, plugin FROM pg_replication_slots');
    const slot = (await e.changes.store.meta('feat'))?.slot;
    expect(slot?.startsWith(SLOT_PREFIX)).toBe(true);
    expect(slots).toEqual([{ slot_name: slot, plugin: 'test_decoding' }]);
    const ident = await adminSql(e, 'feat', "SELECT relname, relreplident FROM pg_class WHERE relname IN ('accounts', 'items') ORDER BY 1");
    expect(ident.map((r) => r.relreplident)).toEqual(['f', 'f']);
    expect(await all(e, 'feat')).toEqual([]);
    await expect(all(e, 'main')).rejects.toThrow(/root branch does not capture/);
    expect(record.state).toBe('ready');
  });

  it('gives main the objects dormant (no slot, no trigger work), so its next branches only add their slot', async () => {
    const deadline = Date.now() + 10_000;
    const hasSchema = async () => (await adminSql(e, 'main', "SELECT 1 FROM pg_namespace WHERE nspname = '_vela'")).length > 0;
    while (!(await hasSchema()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await hasSchema()).toBe(true);
    expect(await adminSql(e, 'main', 'SELECT slot_name FROM pg_replication_slots')).toEqual([]);
    await sql(uriOf(e, 'main'), 'CREATE TABLE main_only (id int PRIMARY KEY)');
    expect(await adminSql(e, 'main', "SELECT relreplident FROM pg_class WHERE relname = 'main_only'")).toEqual([{ relreplident: 'd' }]);
    expect(await adminSql(e, 'main', 'SELECT count(*)::int AS n FROM _vela.ddl_log')).toEqual([{ n: 0 }]);
    await e.manager.create({ name: 'second' });
    expect(await adminSql(e, 'second', "SELECT relreplident FROM pg_class WHERE relname = 'main_only'")).toEqual([{ relreplident: 'f' }]);
    await sql(uriOf(e, 'second'), 'CREATE TABLE t2 (id int PRIMARY KEY)');
    expect(changesOf(await all(e, 'second')).map((c) => c.kind === 'ddl' && c.sql)).toEqual(['CREATE TABLE t2 (id int PRIMARY KEY)']);
    await e.manager.delete('second');
  });

  it('logs DDL by the owner role and row changes in commit order, with their values', async () => {
    const uri = uriOf(e, 'feat');
    await sql(
      uri,
      `CREATE TABLE notes (id bigserial PRIMARY KEY, body text); CREATE INDEX notes_body ON notes (body);
       INSERT INTO notes (body) VALUES ('it''s'), (NULL)`,
    );
    await sql(uri, "UPDATE accounts SET n = 100, note = 'changed' WHERE id = 1");
    await sql(uri, 'DELETE FROM accounts WHERE id = 2');
    await sql(uri, 'TRUNCATE items');
    await sql(uri, "SELECT setval('accounts_id_seq', 500)");
    await sql(uri, 'ALTER TABLE notes ADD COLUMN tags text[]');
    const changes = changesOf(await all(e, 'feat'));
    const kinds = changes.map((c) => (c.kind === 'ddl' ? `ddl:${c.tag}` : c.kind));
    expect(kinds).toEqual([
      'ddl:CREATE TABLE',
      'ddl:CREATE INDEX',
      'insert',
      'insert',
      'update',
      'delete',
      'truncate',
      'ddl:ALTER TABLE',
      // Sequence positions are read when the branch is drained, logged as a transaction of their own.
      'sequence',
      'sequence',
    ]);
    const [create, index, ins1, ins2, upd, del, trunc, alter, ...seqs] = changes;
    expect(create).toMatchObject({ sql: 'CREATE TABLE notes (id bigserial PRIMARY KEY, body text)', role: 'vela_owner' });
    expect(create.kind === 'ddl' && create.searchPath).toContain('public');
    expect(index).toMatchObject({ sql: 'CREATE INDEX notes_body ON notes (body)' });
    expect(ins1.kind === 'insert' && val(ins1.row, 'body')).toBe("it's");
    expect(ins2.kind === 'insert' && val(ins2.row, 'body')).toBeNull();
    expect(ins1).toMatchObject({ table: { schema: 'public', name: 'notes' } });
    // REPLICA IDENTITY FULL: the old row whole (NULL columns included), and the new one.
    expect(upd.kind === 'update' && upd.old?.map((c) => [c.name, c.value])).toEqual([
      ['id', '1'],
      ['email', 'u1@x'],
      ['n', '1'],
      ['note', null],
    ]);
    expect(upd.kind === 'update' && [val(upd.row, 'n'), val(upd.row, 'note')]).toEqual(['100', 'changed']);
    expect(del.kind === 'delete' && val(del.old, 'email')).toBe('u2@x');
    expect(trunc).toEqual({ kind: 'truncate', tables: [{ schema: 'public', name: 'items' }] });
    expect(seqs).toEqual([
      { kind: 'sequence', sequence: { schema: 'public', name: 'accounts_id_seq' }, value: '500' },
      { kind: 'sequence', sequence: { schema: 'public', name: 'notes_id_seq' }, value: '2' },
    ]);
    expect(alter).toMatchObject({ tag: 'ALTER TABLE', sql: 'ALTER TABLE notes ADD COLUMN tags text[]' });
    // A table the branch creates gets REPLICA IDENTITY FULL from the event trigger.
    expect(await adminSql(e, 'feat', "SELECT relreplident FROM pg_class WHERE relname = 'notes'")).toEqual([{ relreplident: 'f' }]);
  });

  it('numbers transactions from 1 without gaps and counts rows per table', async () => {
    const txs = await all(e, 'feat');
    expect(txs.map((t) => t.seq)).toEqual(txs.map((_, i) => i + 1));
    const counts = await e.changes.counts('feat', { sample: 5 });
    expect(counts).toEqual([
      { table: { schema: 'public', name: 'accounts' }, inserted: 0, updated: 1, deleted: 1, sample: [{ id: '1' }, { id: '2' }] },
      { table: { schema: 'public', name: 'notes' }, inserted: 2, updated: 0, deleted: 0, sample: [{ id: '1' }, { id: '2' }] },
    ]);
  });

  it('keeps the reserved schema out of the owner role’s reach and sight', async () => {
    const uri = uriOf(e, 'feat');
    // pg_read_all_data lets the owner read every table; the DDL log never holds a committed row.
    expect(await sql(uri, 'SELECT * FROM _vela.ddl_log')).toEqual([]);
    // pg_write_all_data would let it write every table: the log tables refuse anyone but a superuser.
    const forged = "INSERT INTO _vela.ddl_log VALUES ('CREATE TABLE', 'x', 'x', 'postgres', '{}', now())";
    await expect(sql(uri, forged)).rejects.toThrow(/permission denied for table ddl_log/);
    await expect(sql(uri, 'DELETE FROM _vela.seq_state')).rejects.toThrow(/permission denied for table seq_state/);
    await expect(sql(uri, 'UPDATE _vela.seq_state SET value = 1')).rejects.toThrow(/permission denied for table seq_state/);
    await expect(sql(uri, 'TRUNCATE _vela.ddl_log')).rejects.toThrow(/permission denied/);
    await expect(sql(uri, 'CREATE TABLE _vela.mine (x int)')).rejects.toThrow(/permission denied for schema _vela/);
    await expect(sql(uri, 'SELECT _vela.guard()')).rejects.toThrow(/permission denied|trigger functions can only be called as triggers/);
    await expect(sql(uri, 'DROP SCHEMA _vela CASCADE')).rejects.toThrow(/must be owner/);
    await expect(sql(uri, 'ALTER EVENT TRIGGER vela_capture_ddl DISABLE')).rejects.toThrow(/must be owner|permission denied/);
    const slot = (await e.changes.store.meta('feat'))?.slot;
    await expect(sql(uri, `SELECT pg_drop_replication_slot('${slot}')`)).rejects.toThrow(/permission denied|must be superuser/);
    await expect(sql(uri, "SET session_replication_role = 'replica'")).rejects.toThrow(/permission denied/);
    // What stays visible: the schema's name (pg_namespace, and information_schema through the
    // USAGE pg_read_all_data implies). Nothing in it can be created, run or written by the owner.
    const privs = await sql<{ create: boolean; run: boolean }>(
      uri,
      "SELECT has_schema_privilege('_vela', 'CREATE') AS create, has_function_privilege('_vela.on_ddl()', 'EXECUTE') AS run",
    );
    expect(privs).toEqual([{ create: false, run: false }]);
    // The owner's own disabling of capture for its session is not honoured (it is no superuser).
    await sql(uri, "SET vela.capture = 'off'; CREATE TABLE sneaky (id int PRIMARY KEY)");
    const last = changesOf(await all(e, 'feat')).at(-1);
    expect(last).toMatchObject({ kind: 'ddl', sql: 'CREATE TABLE sneaky (id int PRIMARY KEY)' });
  });

  it('drains before a stop, survives an agent restart, and neither loses nor duplicates', async () => {
    const uri = uriOf(e, 'feat');
    await sql(uri, "INSERT INTO notes (body) VALUES ('before stop')");
    await e.manager.stop('feat'); // no explicit drain: stop does it
    const meta = await e.changes.store.meta('feat');
    const stopped = await readLog(e, 'feat');
    expect(changesOf(stopped).some((c) => c.kind === 'insert' && val(c.row, 'body') === 'before stop')).toBe(true);
    await e.manager.start('feat');
    await sql(uri, "INSERT INTO notes (body) VALUES ('after start')");
    // Restart: a new engine on the same data dir (its branches keep running, its logs stay).
    await e.close();
    e = await e.reopen();
    await sql(uri, "INSERT INTO notes (body) VALUES ('after restart')");
    const txs = await all(e, 'feat');
    const bodies = changesOf(txs).flatMap((c) => (c.kind === 'insert' && c.table.name === 'notes' ? [val(c.row, 'body')] : []));
    expect(bodies).toEqual(["it's", null, 'before stop', 'after start', 'after restart']);
    expect(txs.map((t) => t.seq)).toEqual(txs.map((_, i) => i + 1));
    expect((await e.changes.store.meta('feat'))?.forkLsn).toBe(meta?.forkLsn);
  });

  it('a crash between the fsync and the slot advance duplicates nothing; a torn last line is dropped', async () => {
    const uri = uriOf(e, 'feat');
    await all(e, 'feat');
    await sql(uri, "INSERT INTO notes (body) VALUES ('crash window')");
    // What a drain writes before it advances the slot, then "crash": the slot was never advanced.
    const slot = (await e.changes.store.meta('feat'))?.slot;
    const rows = (await adminSql(
      e,
      'feat',
      `SELECT lsn::text AS lsn, xid::text AS xid, data FROM pg_logical_slot_peek_changes('${slot}', NULL, NULL, 'include-xids', '1', 'skip-empty-xacts', '1')`,
    )) as DecodedRow[];
    expect(await e.changes.store.append('feat', assemble(rows))).toBeGreaterThan(0);
    // The engine's close drains again: the slot still holds what the log has (deduplicated by LSN).
    await e.close();
    // And a line a crash cut short, as the next start finds it.
    await appendFile(join(e.changes.store.dir('feat'), 'log.jsonl'), '{"seq": 99, "xid": "1", "ls');
    e = await e.reopen();
    await sql(uri, "INSERT INTO notes (body) VALUES ('after torn line')");
    const txs = await all(e, 'feat');
    const bodies = changesOf(txs).flatMap((c) => (c.kind === 'insert' ? [val(c.row, 'body')] : []));
    expect(bodies.filter((b) => b === 'crash window')).toHaveLength(1);
    expect(bodies.at(-1)).toBe('after torn line');
    expect(txs.map((t) => t.seq)).toEqual(txs.map((_, i) => i + 1));
    const lsns = txs.map((t) => t.lsn);
    expect(new Set(lsns).size).toBe(lsns.length);
  });

  it('keeps its log private: directory 0700, files 0600', async () => {
    const dir = e.changes.store.dir('feat');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(e.dataDir, 'changes'))).mode & 0o777).toBe(0o700);
    for (const f of await readdir(dir)) expect((await stat(join(dir, f))).mode & 0o777).toBe(0o600);
  });

  it('a branch of a branch captures from its own fork, with its own slot only', async () => {
    await e.manager.create({ name: 'feat-sub', parent: 'feat' });
    const own = (await e.changes.store.meta('feat-sub'))?.slot;
    expect(own).not.toBe((await e.changes.store.meta('feat'))?.slot);
    expect(await adminSql(e, 'feat-sub', 'SELECT slot_name FROM pg_replication_slots')).toEqual([{ slot_name: own }]);
    expect(await all(e, 'feat-sub')).toEqual([]);
    await sql(uriOf(e, 'feat-sub'), "INSERT INTO notes (body) VALUES ('sub')");
    const changes = changesOf(await all(e, 'feat-sub')).filter((c) => c.kind !== 'sequence');
    expect(changes).toHaveLength(1);
    expect(changes[0].kind === 'insert' && val(changes[0].row, 'body')).toBe('sub');
    expect(changesOf(await all(e, 'feat')).some((c) => c.kind === 'insert' && val(c.row, 'body') === 'sub')).toBe(false);
  });

  it('keeps the log across a rebase swap: the new volume gets a new slot, numbering goes on', async () => {
    const before = await all(e, 'feat');
    const rebase = e.changes.forRebase();
    // As rebase does on the swapped-in volume (here: the same one), twice as recovery may.
    await rebase.install(e.manager.get('feat'));
    const slot = (await e.changes.store.meta('feat'))?.slot;
    await rebase.install(e.manager.get('feat'));
    expect((await e.changes.store.meta('feat'))?.slot).toBe(slot);
    expect(await adminSql(e, 'feat', 'SELECT slot_name FROM pg_replication_slots')).toEqual([{ slot_name: slot }]);
    await sql(uriOf(e, 'feat'), "INSERT INTO notes (body) VALUES ('after rebase')");
    const after = await all(e, 'feat');
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.map((t) => t.seq)).toEqual(after.map((_, i) => i + 1));
    expect(changesOf(after.slice(before.length)).some((c) => c.kind === 'insert' && val(c.row, 'body') === 'after rebase')).toBe(true);
    const counts = await e.changes.counts('feat');
    expect(counts.find((c) => c.table.name === 'notes')?.inserted).toBe(bodiesInserted(after));
  });

  it('drains in the background without anyone reading', async () => {
    await e.close();
    e = await e.reopen({ capturePollMs: 100 });
    await sql(uriOf(e, 'feat'), "INSERT INTO notes (body) VALUES ('background')");
    const seen = async () => changesOf(await readLog(e, 'feat')).some((c) => c.kind === 'insert' && val(c.row, 'body') === 'background');
    const deadline = Date.now() + 10_000;
    while (!(await seen()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await seen()).toBe(true);
  });

  it('reports slot lag per branch for /metrics', async () => {
    await all(e, 'feat');
    const lag = e.changes.slotLag();
    expect(Object.keys(lag)).toContain('feat');
    expect(lag.feat).toBeGreaterThanOrEqual(0);
    expect(lag.feat).toBeLessThan(1024 * 1024);
  });

  it('starts an empty log on reset and removes it on delete', async () => {
    await e.manager.delete('feat-sub');
    await e.manager.reset('feat');
    expect(await all(e, 'feat')).toEqual([]);
    await sql(uriOf(e, 'feat'), "INSERT INTO items VALUES (100, 'after reset')");
    expect(changesOf(await all(e, 'feat')).map((c) => c.kind)).toEqual(['insert']);
    await e.manager.delete('feat');
    expect(await e.changes.store.branches()).not.toContain('feat');
  });
});

async function readLog(e: TestEngine, branch: string): Promise<CapturedTransaction[]> {
  const out: CapturedTransaction[] = [];
  for await (const tx of e.changes.store.read(branch)) out.push(tx);
  return out;
}

function bodiesInserted(txs: CapturedTransaction[]): number {
  return changesOf(txs).filter((c) => c.kind === 'insert' && c.table.name === 'notes').length;
}
