import { access, mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';
import { CommandNotFoundError } from '../runner.ts';
import type { StorageDriver, VolumeOwner, PoolUsage, CommitStats } from './driver.ts';
import { FS_MAGIC, fsName } from './driver.ts';
import { VolumeDir } from './volume-dir.ts';
import { isStagingName } from '../../core/names.ts';
import { enableQuotas, FULL_QGROUPS_WARNING } from './btrfs-quota.ts';
import type { QuotaMode } from './btrfs-quota.ts';
import { poolSysfsDir, readCommitStats } from './btrfs-sysfs.ts';
import { BtrfsTrash, TRASH_DEFAULTS } from './btrfs-trash.ts';

/** btrfs subvolumes: snapshots are atomic over the whole data directory and O(1) in its size. */
export class BtrfsDriver implements StorageDriver {
  readonly kind = 'btrfs' as const;
  readonly atomic = true;
  private readonly dir: VolumeDir;
  private readonly run: Runner;
  private readonly quotaBytes: number | null;
  private readonly warn: (msg: string) => void;
  private quotaMode: QuotaMode | null = null;
  private sysfs: string | null = null;
  private readonly trash: BtrfsTrash;

  constructor(
    root: string,
    runner: Runner,
    opts: { quotaBytes?: number | null; warn?: (msg: string) => void; trash?: Partial<typeof TRASH_DEFAULTS> } = {},
  ) {
    this.dir = new VolumeDir(root);
    this.run = runner;
    this.quotaBytes = opts.quotaBytes ?? null;
    this.warn = opts.warn ?? (() => {});
    this.trash = new BtrfsTrash(root, runner, { ...TRASH_DEFAULTS, ...opts.trash, warn: this.warn });
  }

  describe(): string {
    const kind = this.quotaMode === 'full' ? 'full qgroup' : 'simple-quota';
    const quota = this.quotaBytes ? `, ${Math.round(this.quotaBytes / 1024 ** 2)} MiB ${kind} limit per branch` : '';
    return `btrfs subvolumes in ${this.dir.root}${quota}`;
  }

  async init(): Promise<void> {
    await assertBtrfsTools(this.run);
    await mkdir(this.dir.root, { recursive: true });
    const type = (await statfs(this.dir.root)).type;
    if (type !== FS_MAGIC.btrfs) {
      throw new Error(
        `storage btrfs: ${this.dir.root} is on ${fsName(type)}, not btrfs: mount a btrfs filesystem there, run the agent as root to get a loop-mounted pool, or choose --storage reflink|copy`,
      );
    }
    await this.dir.ensure();
    if (this.quotaBytes) {
      this.quotaMode = await enableQuotas(this.run, this.dir.root);
      if (this.quotaMode === 'full') this.warn(FULL_QGROUPS_WARNING);
    }
    this.trash.wake(); // volumes a crash left in the trash
  }

  volumePath(name: string): string {
    return this.dir.path(name);
  }

  async exists(name: string): Promise<boolean> {
    return access(this.dir.path(name)).then(
      () => true,
      () => false,
    );
  }

  async createVolume(name: string, owner: VolumeOwner | null): Promise<string> {
    const path = this.dir.path(name);
    await this.run(['btrfs', 'subvolume', 'create', path]);
    await this.dir.own(path, owner);
    return path;
  }

  /**
   * No data CoW for new WAL segments (wal_recycle is off: every segment is a new file, inheriting
   * the directory's flag): each WAL write would otherwise get a new extent and a checksum. Under
   * pgbench that cost the parent a third of its throughput (bench/scale: 300 vs 450 tps). Data
   * files stay CoW: with hundreds of snapshots sharing them, NOCOW writes pay a cross-snapshot
   * reference check each and made snapshots 3x slower. WAL records keep their own CRCs.
   */
  async prepareData(dataDir: string): Promise<void> {
    const wal = join(dataDir, 'pg_wal');
    const r = await this.run(['chattr', '+C', wal], { allowFailure: true }).catch((e: Error) => ({
      code: 1,
      stdout: '',
      stderr: e.message,
    }));
    if (r.code !== 0) this.warn(`chattr +C ${wal} failed (${r.stderr.trim()}): WAL stays copy-on-write, which is slower`);
  }

  async snapshot(parent: string, child: string): Promise<string> {
    const dst = this.dir.path(child);
    await this.trash.during(() => this.run(['btrfs', 'subvolume', 'snapshot', this.dir.path(parent), dst]));
    // Exclusive bytes: what the branch wrote itself, not the data it shares with its parent.
    // Staging volumes (a refresh of main) are the root's and get none.
    if (this.quotaBytes && !isStagingName(child)) {
      await this.run(['btrfs', 'qgroup', 'limit', '-e', String(this.quotaBytes), dst]);
    }
    return dst;
  }

  async destroy(name: string): Promise<void> {
    if (!(await this.exists(name))) return;
    await this.trash.put(this.dir.path(name), name);
  }

  /** Deleted volumes still waiting to be freed (`.trash` under the volume root). */
  trashed(): Promise<string[]> {
    return this.trash.waiting();
  }

  close(): Promise<void> {
    return this.trash.close();
  }

  list(): Promise<string[]> {
    return this.dir.list();
  }

  listStaging(): Promise<string[]> {
    return this.dir.listStaging();
  }

  rename(from: string, to: string): Promise<void> {
    return this.dir.rename(from, to);
  }

  async exclusiveBytes(name: string): Promise<number | null> {
    // `filesystem du` walks extents: exact without enabling quotas (which slow every snapshot).
    const r = await this.run(['btrfs', 'filesystem', 'du', '-s', '--raw', this.dir.path(name)]);
    const row = r.stdout.trim().split('\n').pop() ?? '';
    const cols = row.trim().split(/\s+/);
    const exclusive = Number(cols[1]);
    return Number.isFinite(exclusive) ? exclusive : null;
  }

  usage(): Promise<PoolUsage> {
    return this.dir.usage();
  }

  async commit(): Promise<void> {
    await this.run(['btrfs', 'filesystem', 'sync', this.dir.root]);
  }

  async commitStats(): Promise<CommitStats | null> {
    this.sysfs ??= await poolSysfsDir(this.run, this.dir.root);
    return this.sysfs ? readCommitStats(this.sysfs) : null;
  }

  async settle(): Promise<void> {
    await this.trash.empty();
    // Commit first: the cleaner that frees deleted subvolumes otherwise waits for the 30 s commit interval.
    await this.commit();
    await this.run(['btrfs', 'subvolume', 'sync', this.dir.root]);
    await this.commit();
  }
}

export async function assertBtrfsTools(run: Runner): Promise<void> {
  try {
    await run(['btrfs', '--version']);
  } catch (err) {
    if (err instanceof CommandNotFoundError) {
      throw new Error('storage btrfs: the btrfs command is not installed: install btrfs-progs (apt-get install btrfs-progs)', {
        cause: err,
      });
    }
    throw err;
  }
}
