import { afterAll, beforeAll, expect, it } from 'vitest';
import { access, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { makeDataDir, destroyDataDir } from '../helpers/engine-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { ensureLoopPool } from '../../src/agent/storage/loop-pool.ts';
import { BtrfsDriver } from '../../src/agent/storage/btrfs.ts';
import { uncleanedSubvolumes } from '../../src/agent/storage/btrfs-trash.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gone = (path: string) =>
  access(path).then(
    () => false,
    () => true,
  );

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describeWithPool('btrfs: deleted volumes are freed when no snapshot is waiting', () => {
  let dataDir: string;
  let pool: string;
  let seq = 0;
  const drivers: BtrfsDriver[] = [];

  /** A driver on its own volume root in the shared pool, with a volume holding some data. */
  async function driver(trash: { quietMs?: number; maxWaiting?: number }): Promise<BtrfsDriver> {
    const d = new BtrfsDriver(join(pool, `vols-${++seq}`), processRunner, { trash });
    drivers.push(d);
    await d.init();
    await d.createVolume('base', null);
    await writeFile(join(d.volumePath('base'), 'data'), Buffer.alloc(4 * 1024 * 1024, 7));
    return d;
  }

  beforeAll(async () => {
    dataDir = await makeDataDir('trash');
    pool = join(dataDir, 'pool');
    await ensureLoopPool(processRunner, join(dataDir, 'pool.img'), pool, 4, () => {});
  });
  afterAll(async () => {
    for (const d of drivers) await d.close();
    await destroyDataDir(dataDir);
  });

  it('frees the name at once, holds the deletion while snapshots run, then frees the subvolume', async () => {
    const d = await driver({ quietMs: 800 });
    await d.snapshot('base', 'pr-1');
    await d.destroy('pr-1');
    expect(await gone(d.volumePath('pr-1'))).toBe(true);
    expect(await d.list()).toEqual(['base']);
    // The same name can be created again while its old volume still waits.
    await d.snapshot('base', 'pr-1');
    await d.destroy('pr-1');
    expect(await d.trashed()).toHaveLength(2);
    // A burst of creates: nothing is deleted under it.
    for (let i = 0; i < 8; i++) {
      await d.snapshot('base', `burst-${i}`);
      await sleep(150);
    }
    expect(await d.trashed()).toHaveLength(2);
    // Quiet: both go, one at a time, and btrfs frees them.
    await until('the trash to empty', async () => (await d.trashed()).length === 0);
    await until('btrfs to free them', async () => (await uncleanedSubvolumes(processRunner, pool)) === 0);
  });

  it('deletes anyway once maxWaiting volumes wait, however busy the pool', async () => {
    const d = await driver({ quietMs: 600_000, maxWaiting: 2 });
    await d.snapshot('base', 'a');
    await d.snapshot('base', 'b');
    await d.destroy('a');
    await sleep(300);
    expect(await d.trashed()).toHaveLength(1); // one waits: the last snapshot was just now
    await d.destroy('b');
    await until('the trash to drop below maxWaiting', async () => (await d.trashed()).length === 1);
    await sleep(500);
    expect(await d.trashed()).toHaveLength(1);
  });

  it('settle empties the trash at once, and a new start frees what a dead one left', async () => {
    const d = await driver({ quietMs: 600_000 });
    await d.snapshot('base', 'x');
    await d.snapshot('base', 'y');
    await d.destroy('x');
    await d.destroy('y');
    await d.settle();
    expect(await d.trashed()).toEqual([]);
    expect(await uncleanedSubvolumes(processRunner, pool)).toBe(0);

    await d.snapshot('base', 'z');
    await d.destroy('z');
    await d.close(); // the agent dies with z in the trash
    expect(await d.trashed()).toHaveLength(1);
    const next = new BtrfsDriver(dirname(d.volumePath('base')), processRunner, { trash: { quietMs: 0 } });
    drivers.push(next);
    await next.init();
    await until('the next start to free it', async () => (await next.trashed()).length === 0);
    expect(await next.list()).toEqual(['base']);
  });
});
