import { access, mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';
import type { StorageKind } from '../../core/api/index.ts';
import type { StorageDriver } from './driver.ts';
import { FS_MAGIC } from './driver.ts';
import { BtrfsDriver } from './btrfs.ts';
import { FileCloneDriver, assertReflink } from './file-clone.ts';
import { ZfsDriver } from './zfs.ts';
import { ensureLoopPool, isMountPoint } from './loop-pool.ts';

export interface StorageOptions {
  kind: StorageKind | 'auto';
  dataDir: string;
  poolImage?: string | null;
  poolSizeGiB?: number;
  zfsDataset?: string | null;
  /** Per-branch quota in bytes (null = none). */
  quotaBytes?: number | null;
  runner: Runner;
  log: (level: 'info' | 'warn', msg: string) => void;
}

export const COPY_WARNING =
  'storage copy: no copy-on-write filesystem here, so every branch is a FULL COPY of its parent (time and space grow with database size). Use btrfs, XFS with reflink, or ZFS for real branching';

/** Picks and initialises the storage driver; `auto` takes the best available and says which. */
export async function openStorage(opts: StorageOptions): Promise<StorageDriver> {
  const poolDir = join(opts.dataDir, 'pool');
  const volumes = join(poolDir, 'vols');
  const image = opts.poolImage ?? join(opts.dataDir, 'pool.img');
  const info = (msg: string) => opts.log('info', msg);
  const quota = { quotaBytes: opts.quotaBytes ?? null, warn: (msg: string) => opts.log('warn', msg) };
  await mkdir(poolDir, { recursive: true, mode: 0o755 });

  const loopBtrfs = async () => {
    await ensureLoopPool(opts.runner, image, poolDir, opts.poolSizeGiB ?? 20, info);
    return new BtrfsDriver(volumes, opts.runner, quota);
  };

  let driver: StorageDriver;
  switch (opts.kind) {
    case 'btrfs': {
      const onBtrfs = (await statfs(poolDir)).type === FS_MAGIC.btrfs;
      const haveImage = await access(image).then(
        () => true,
        () => false,
      );
      driver =
        onBtrfs && !haveImage
          ? new BtrfsDriver(volumes, opts.runner, quota)
          : process.getuid?.() === 0
            ? await loopBtrfs()
            : new BtrfsDriver(volumes, opts.runner, quota);
      break;
    }
    case 'zfs':
      if (!opts.zfsDataset) throw new Error('storage zfs needs zfs.dataset in the config (e.g. tank/vela)');
      driver = new ZfsDriver(opts.zfsDataset, volumes, opts.runner, quota);
      break;
    case 'reflink':
    case 'copy':
      driver = new FileCloneDriver(opts.kind, volumes, opts.runner);
      break;
    case 'auto':
      driver = await pickAuto(opts, poolDir, volumes, image, loopBtrfs, quota);
      break;
  }
  await driver.init();
  if (driver.kind === 'copy') opts.log('warn', COPY_WARNING);
  if (opts.quotaBytes && (driver.kind === 'reflink' || driver.kind === 'copy')) {
    opts.log('warn', `branch.quota is not enforced on ${driver.kind} storage (only btrfs qgroups and ZFS refquota)`);
  } else opts.log('info', `storage: ${driver.describe()}${opts.kind === 'auto' ? ' (picked by --storage auto)' : ''}`);
  return driver;
}

async function pickAuto(
  opts: StorageOptions,
  poolDir: string,
  volumes: string,
  image: string,
  loopBtrfs: () => Promise<StorageDriver>,
  quota: ConstructorParameters<typeof BtrfsDriver>[2],
): Promise<StorageDriver> {
  const haveImage = await access(image).then(
    () => true,
    () => false,
  );
  if (haveImage || (await isMountPoint(poolDir))) {
    if ((await statfs(poolDir)).type === FS_MAGIC.btrfs || haveImage) return loopBtrfs();
  }
  const type = (await statfs(poolDir)).type;
  if (type === FS_MAGIC.btrfs) return new BtrfsDriver(volumes, opts.runner, quota);
  if (type === FS_MAGIC.zfs && opts.zfsDataset) return new ZfsDriver(opts.zfsDataset, volumes, opts.runner, quota);
  if (process.getuid?.() === 0) {
    try {
      return await loopBtrfs();
    } catch (err) {
      opts.log('warn', `storage auto: no loop btrfs pool (${(err as Error).message}); trying reflink`);
    }
  }
  try {
    await mkdir(volumes, { recursive: true });
    await assertReflink(opts.runner, volumes);
    return new FileCloneDriver('reflink', volumes, opts.runner);
  } catch {
    return new FileCloneDriver('copy', volumes, opts.runner);
  }
}
