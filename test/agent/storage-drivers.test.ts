import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, makeDataDir, destroyDataDir, sql, adminSql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';
import type { Runner, RunOptions } from '../../src/agent/runner.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { ZfsDriver } from '../../src/agent/storage/zfs.ts';
import { COPY_WARNING } from '../../src/agent/storage/select.ts';

const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;

/** Branch a running parent holding ~40 MB and check data, isolation and how much the pool grew. */
async function branchRunningParent(e: TestEngine): Promise<{ grewBytes: number; cloneBytes: number | null }> {
  await sql(uriOf(e, 'main'), 'CREATE TABLE big AS SELECT g, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 150000) g');
  await adminSql(e, 'main', 'CHECKPOINT');
  // Space: an idle parent, so the growth is the clone's alone.
  const before = (await e.manager.storage.usage()).usedBytes;
  await e.manager.create({ name: 'idle-clone' });
  const grewBytes = (await e.manager.storage.usage()).usedBytes - before;
  const cloneBytes = await e.manager.storage.exclusiveBytes('idle-clone');
  await e.manager.delete('idle-clone');
  // Consistency: keep writing to the parent while it is cloned; the backup API must cope.
  const writer = sql(uriOf(e, 'main'), 'INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g');
  await new Promise((r) => setTimeout(r, 100));
  const { record } = await e.manager.create({ name: 'clone' });
  await writer;
  expect(record.state).toBe('ready');
  const [n] = await sql<{ n: string }>(uriOf(e, 'clone'), 'SELECT count(*) AS n FROM big WHERE g <= 150000');
  expect(Number(n.n)).toBeGreaterThanOrEqual(150000);
  await sql(uriOf(e, 'clone'), 'DELETE FROM big');
  const [m] = await sql<{ n: string }>(uriOf(e, 'main'), 'SELECT count(*) AS n FROM big');
  expect(Number(m.n)).toBe(350000);
  await e.manager.delete('clone');
  expect(await e.manager.storage.list()).toEqual(['main']);
  return { grewBytes, cloneBytes };
}

describeWithPool('reflink storage on a real XFS filesystem', () => {
  let e: TestEngine;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await makeDataDir('xfs');
    const image = join(dataDir, 'xfs.img');
    const fh = await open(image, 'wx');
    await fh.truncate(2 * 1024 ** 3);
    await fh.close();
    await processRunner(['mkfs.xfs', '-q', '-m', 'reflink=1', image]);
    await mkdir(join(dataDir, 'pool'));
    await processRunner(['mount', '-o', 'loop', image, join(dataDir, 'pool')]);
    e = await openTestEngine('xfs', { dataDir, storage: 'reflink' });
  });

  afterAll(async () => {
    if (dataDir) await destroyDataDir(dataDir);
  });

  it('clones a running parent consistently (pg_backup_start/stop) without copying its data', async () => {
    expect(e.manager.storage.kind).toBe('reflink');
    expect(e.manager.storage.atomic).toBe(false);
    const { grewBytes } = await branchRunningParent(e);
    // ~40+ MB of table data in the parent; a reflink clone shares it.
    expect(grewBytes).toBeLessThan(20 * 1024 * 1024);
  });
});

describeWithPool('copy storage (the loud fallback)', () => {
  let e: TestEngine;
  const warnings: string[] = [];
  const calls: { argv: readonly string[]; uid?: number }[] = [];
  const recording: Runner = (argv, opts = {}) => {
    calls.push({ argv, uid: opts.uid });
    return processRunner(argv, opts);
  };

  beforeAll(async () => {
    e = await openTestEngine('copy', {
      storage: 'copy',
      runner: recording,
      log: (level, msg) => level === 'warn' && warnings.push(msg),
    });
  });

  afterAll(async () => {
    await e?.destroy();
  });

  it('warns that every branch is a full copy, and still makes consistent branches', async () => {
    expect(warnings).toContain(COPY_WARNING);
    expect(e.manager.storage.kind).toBe('copy');
    // The pool shares /var/tmp with other suites, so count the copy's own bytes (du), not the filesystem's.
    const { cloneBytes } = await branchRunningParent(e);
    expect(cloneBytes).toBeGreaterThan(30 * 1024 * 1024); // a real copy, as the warning says
    // Inside a child volume (the postgres user's once chowned) root runs nothing: cp and mkdir run as its owner.
    const vela = (await stat(e.storage.volumePath('main'))).uid;
    const inChild = calls.filter((c) => ['cp', 'mkdir', 'rm'].includes(c.argv[0]) && c.argv.some((a) => a.includes('/clone/')));
    expect(inChild.map((c) => c.argv[0])).toEqual(expect.arrayContaining(['cp', 'mkdir', 'rm']));
    expect(inChild.filter((c) => c.uid !== vela)).toEqual([]);
    expect(calls.filter((c) => c.argv[0] === 'chown' && c.argv.some((a) => a.includes('/clone/')))).toEqual([]);
  });
});

describe('zfs driver command lines (through the runner seam; no ZFS module on this host)', () => {
  function recorder(answers: Record<string, string> = {}) {
    const calls: string[] = [];
    const runner: Runner = async (argv, opts: RunOptions = {}) => {
      const line = argv.join(' ');
      calls.push(line);
      const hit = Object.entries(answers).find(([prefix]) => line.startsWith(prefix));
      if (hit && hit[1] === 'FAIL') {
        if (opts.allowFailure) return { code: 1, stdout: '', stderr: 'dataset does not exist' };
        throw new Error(`${line} failed`);
      }
      return { code: 0, stdout: hit ? hit[1] : '', stderr: '' };
    };
    return { calls, runner };
  }

  it('init creates the parent dataset with its mountpoint when missing', async () => {
    const { calls, runner } = recorder({ 'zfs list -H -o name tank/vela': 'FAIL' });
    await new ZfsDriver('tank/vela', '/srv/vela/pool/vols', runner).init();
    expect(calls).toEqual(['zfs version', 'zfs list -H -o name tank/vela', 'zfs create -p -o mountpoint=/srv/vela/pool/vols tank/vela']);
  });

  it('snapshot + clone per branch; destroy removes the clone and then its origin snapshot', async () => {
    const { calls, runner } = recorder({ 'zfs get -H -o value origin tank/vela/pr-1': 'tank/vela/main@vela-pr-1-1700000000000\n' });
    const zfs = new ZfsDriver('tank/vela', '/srv/vela/pool/vols', runner);
    const path = await zfs.snapshot('main', 'pr-1');
    expect(path).toBe('/srv/vela/pool/vols/pr-1');
    expect(calls[0]).toMatch(/^zfs snapshot tank\/vela\/main@vela-pr-1-\d+$/);
    expect(calls[1]).toMatch(/^zfs clone tank\/vela\/main@vela-pr-1-\d+ tank\/vela\/pr-1$/);
    calls.length = 0;
    await zfs.destroy('pr-1');
    expect(calls).toEqual([
      'zfs list -H -o name tank/vela/pr-1',
      'zfs get -H -o value origin tank/vela/pr-1',
      'zfs destroy -r tank/vela/pr-1',
      'zfs destroy tank/vela/main@vela-pr-1-1700000000000',
    ]);
  });

  it('with a quota, a clone gets refquota = what its snapshot references + the quota; staging volumes get none', async () => {
    const { calls, runner } = recorder({ 'zfs get -H -p -o value referenced': '1073741824\n' });
    const zfs = new ZfsDriver('tank/vela', '/p', runner, { quotaBytes: 10 * 1024 ** 3 });
    await zfs.snapshot('main', 'pr-3');
    expect(calls[1]).toMatch(/^zfs get -H -p -o value referenced tank\/vela\/main@vela-pr-3-\d+$/);
    expect(calls[2]).toMatch(/^zfs clone -o refquota=11811160064 tank\/vela\/main@vela-pr-3-\d+ tank\/vela\/pr-3$/);
    calls.length = 0;
    await zfs.snapshot('main', '.next-main');
    expect(calls[1]).toMatch(/^zfs clone tank\/vela\/main@vela-\.next-main-\d+ tank\/vela\/vela_next-main$/);
  });

  it('a failed clone drops the snapshot it made', async () => {
    const { calls, runner } = recorder({ 'zfs clone': 'FAIL' });
    await expect(new ZfsDriver('tank/vela', '/p', runner).snapshot('main', 'pr-2')).rejects.toThrow();
    expect(calls[2]).toMatch(/^zfs destroy tank\/vela\/main@vela-pr-2-\d+$/);
  });

  it('measures with -p (exact bytes) and lists only branch datasets', async () => {
    const { runner } = recorder({
      'zfs get -H -p -o value used tank/vela/pr-1': '40960\n',
      'zfs get -H -p -o value used,available tank/vela': '1000\n2000\n',
      'zfs list -H -o name -d 1': 'tank/vela\ntank/vela/main\ntank/vela/pr-1\ntank/vela/Not_A_Branch\n',
    });
    const zfs = new ZfsDriver('tank/vela', '/p', runner);
    expect(await zfs.exclusiveBytes('pr-1')).toBe(40960);
    expect(await zfs.usage()).toEqual({ usedBytes: 1000, freeBytes: 2000 });
    expect(await zfs.list()).toEqual(['main', 'pr-1']);
  });

  it('refuses names that could escape the dataset', async () => {
    const { runner } = recorder();
    expect(() => new ZfsDriver('tank/vela; rm -rf /', '/p', runner)).toThrow(/not a valid dataset/);
    await expect(new ZfsDriver('tank/vela', '/p', runner).snapshot('main', '../x')).rejects.toThrow(/invalid branch name/);
  });
});
