import { afterAll, beforeAll, expect, it } from 'vitest';
import { access, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { sql } from '../helpers/engine-harness.ts';
import { AgentClient } from '../../src/core/client.ts';

// About 1 KiB a row: 200k rows are ~200 MiB of heap (and as much WAL), far past a 64 MiB quota.
const FLOOD = 'CREATE TABLE flood AS SELECT g, repeat(md5(g::text), 30) AS pad FROM generate_series(1, 200000) g';
const WRITE = "INSERT INTO notes SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g";

describeWithPool('per-branch disk quota (btrfs qgroups)', () => {
  let agent: TestAgent;
  let client: AgentClient;
  /** The pool's /sys/fs/btrfs/<uuid> directory. */
  let sysfs: string;

  beforeAll(async () => {
    agent = await startTestAgent({ tag: 'quota', config: 'branch: { quota: 64M }' });
    client = new AgentClient({ url: agent.url, token: agent.token });
    const shown = execFileSync('btrfs', ['filesystem', 'show', join(agent.dataDir, 'pool')], { encoding: 'utf8' });
    sysfs = `/sys/fs/btrfs/${/uuid:\s*([0-9a-f-]{36})/.exec(shown)![1]}`;
  }, 120_000);

  afterAll(async () => {
    await agent?.destroy();
  });

  /** The pool's commit count as the kernel reports it. */
  const commits = async () => Number(/commits (\d+)/.exec(await readFile(`${sysfs}/commit_stats`, 'utf8'))![1]);

  it('the pool charges branches with simple quotas where the kernel has them (full qgroups slowed creates as branches grew)', async () => {
    const kernelHas = await access('/sys/fs/btrfs/features/simple_quota').then(
      () => true,
      () => false,
    );
    const mode = (await readFile(`${sysfs}/qgroups/mode`, 'utf8').catch(() => 'qgroup')).trim();
    expect(mode).toBe(kernelHas ? 'squota' : 'qgroup');
  });

  it('WAL is nodatacow in main and, through the snapshot, in its branches; data files stay copy-on-write', async () => {
    await client.create({ name: 'nocow' });
    for (const vol of ['main', 'nocow']) {
      const dir = join(agent.dataDir, 'pool', 'vols', vol);
      // lsattr prints the flags first; C = no copy-on-write for data.
      const flags = (path: string) => execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(/\s+/)[0];
      expect(flags(join(dir, 'pg_wal')), vol).toContain('C');
      expect(flags(join(dir, 'base')), vol).not.toContain('C');
      expect(flags(join(dir, 'global', 'pg_control')), vol).not.toContain('C');
    }
    await client.delete('nocow');
  });

  it("stopping a branch commits the pool, so the next create's snapshot does not wait for its writes", async () => {
    const b = (await client.create({ name: 'stopper' })).branch;
    await sql(b.connection!.uri, 'CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g');
    const before = await commits();
    expect((await client.stop('stopper')).state).toBe('stopped');
    expect(await commits()).toBeGreaterThan(before);
    await client.delete('stopper');
  });

  it("/metrics shows the pool's btrfs commits as the kernel counts them", async () => {
    const before = await commits();
    const text = await client.metrics();
    const after = await commits();
    const shown = Number(/^vela_btrfs_commits_total (\d+)$/m.exec(text)?.[1]);
    expect(shown).toBeGreaterThanOrEqual(before);
    expect(shown).toBeLessThanOrEqual(after);
    expect(before).toBeGreaterThan(0);
    expect(text).toMatch(/^vela_btrfs_commit_max_seconds \d+(\.\d+)?$/m);
    expect(Number(/^vela_btrfs_commit_seconds_total (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
  });

  it('a branch writing past its quota gets a disk error in its own session; main and a sibling keep committing', async () => {
    const main = (await client.get('main')).connection!.uri;
    await sql(main, 'CREATE TABLE notes (id int, body text)');
    const hog = (await client.create({ name: 'hog' })).branch.connection!.uri;
    const sibling = (await client.create({ name: 'sibling' })).branch.connection!.uri;

    const err = await sql(hog, FLOOD).then(
      () => null,
      (e: Error) => e,
    );
    // The session ends with the error (or, when the WAL write hit the limit, with the PANIC that follows it).
    expect(err?.message).toMatch(/Disk quota exceeded|terminated unexpectedly/);
    expect(await readFile(join(agent.dataDir, 'logs', 'hog.log'), 'utf8')).toMatch(/Disk quota exceeded/);

    // Neither main nor the sibling shares the hog's limit: ~2 MB each, committed and read back.
    for (const uri of [main, sibling]) {
      await sql(uri, WRITE);
      const [{ n }] = await sql<{ n: string }>(uri, 'SELECT count(*) AS n FROM notes');
      expect(Number(n)).toBe(2000);
    }
    // The agent is healthy and still creates branches.
    const health = await fetch(`${agent.url}/healthz`);
    expect(health.status).toBe(200);
    const after = (await client.create({ name: 'after-flood' })).branch;
    expect(after.state).toBe('ready');
    expect(await sql(after.connection!.uri, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    // A reset gives the hog a fresh volume within its quota, same connection string.
    expect((await client.reset('hog')).state).toBe('ready');
    expect(await sql(hog, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 180_000);
});
