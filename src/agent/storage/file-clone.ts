import { access, mkdir, readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';
import { CommandFailedError } from '../runner.ts';
import type { StorageDriver, VolumeOwner, PoolUsage } from './driver.ts';
import { VolumeDir } from './volume-dir.ts';

/**
 * Per-file clones with `cp`: reflink (XFS, btrfs: shares extents, O(files)) or a plain copy
 * (O(bytes)). Neither is atomic, so the manager brackets them with pg_backup_start/stop.
 */
export class FileCloneDriver implements StorageDriver {
  readonly kind: 'reflink' | 'copy';
  readonly atomic = false;
  private readonly dir: VolumeDir;
  private readonly run: Runner;

  constructor(kind: 'reflink' | 'copy', root: string, runner: Runner) {
    this.kind = kind;
    this.dir = new VolumeDir(root);
    this.run = runner;
  }

  describe(): string {
    return this.kind === 'reflink'
      ? `reflink file clones in ${this.dir.root}`
      : `plain copies in ${this.dir.root} (slow: every branch copies the whole parent)`;
  }

  private cpArgs(): string[] {
    return this.kind === 'reflink' ? ['cp', '-a', '--reflink=always'] : ['cp', '-a', '--reflink=never'];
  }

  async init(): Promise<void> {
    await this.dir.ensure();
    if (this.kind === 'reflink') await assertReflink(this.run, this.dir.root);
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
    await mkdir(path);
    await this.dir.own(path, owner);
    return path;
  }

  async snapshot(parent: string, child: string, opts: { skip?: string[] } = {}): Promise<string> {
    const src = this.dir.path(parent);
    const dst = this.dir.path(child);
    const skip = new Set(opts.skip ?? []);
    const entries = (await readdir(src)).filter((e) => !skip.has(e));
    await this.run(['mkdir', '-m', '0700', dst]);
    await this.run(['chown', '--reference', src, dst]);
    // Inside dst everything runs as the volume's owner: once dst is theirs, a link planted there must
    // not turn a root cp, mkdir or chown into one outside the branch. Entries to skip become empty dirs.
    const as = await this.ownerOf(src);
    if (entries.length) await this.copyLive([...this.cpArgs(), ...entries.map((e) => join(src, e)), `${dst}/`], as);
    for (const e of skip) await this.run(['mkdir', '-p', '-m', '0700', join(dst, e)], as);
    return dst;
  }

  async copyEntry(parent: string, child: string, entry: string): Promise<void> {
    const src = join(this.dir.path(parent), entry);
    const dst = this.dir.path(child);
    const as = await this.ownerOf(dst);
    await this.run(['rm', '-rf', '--one-file-system', join(dst, entry)], as);
    await this.copyLive([...this.cpArgs(), src, `${dst}/`], as);
  }

  /**
   * cp of a running cluster: a file postgres removes mid-copy (a WAL temp file, a dropped relation) is
   * fine inside pg_backup_start/stop, as pg_basebackup treats it, because replay recreates what is
   * needed. Any other cp error still fails the create.
   */
  private async copyLive(argv: string[], as: { uid?: number; gid?: number }): Promise<void> {
    try {
      await this.run(argv, as);
    } catch (err) {
      if (!(err instanceof CommandFailedError) || !onlyVanishedFiles(err.stderr)) throw err;
    }
  }

  /** Run-as options for work inside a volume: its owner when the agent is root and the owner is not. */
  private async ownerOf(path: string): Promise<{ uid?: number; gid?: number }> {
    const st = await stat(path);
    return process.getuid?.() === 0 && st.uid !== 0 ? { uid: st.uid, gid: st.gid } : {};
  }

  async destroy(name: string): Promise<void> {
    await this.run(['rm', '-rf', '--one-file-system', this.dir.path(name)]);
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
    if (this.kind === 'reflink') return null; // shared extents are not visible to du; XFS has no per-file accounting
    const r = await this.run(['du', '-s', '-B1', this.dir.path(name)]);
    return Number(r.stdout.split(/\s+/)[0]) || null;
  }

  usage(): Promise<PoolUsage> {
    return this.dir.usage();
  }

  async settle(): Promise<void> {
    await statfs(this.dir.root);
  }
}

/** Proves the filesystem under `root` can clone files (XFS with reflink=1, btrfs). */
export async function assertReflink(run: Runner, root: string): Promise<void> {
  const probe = join(root, `.reflink-probe-${process.pid}`);
  try {
    await run(['dd', 'if=/dev/zero', `of=${probe}`, 'bs=4096', 'count=1', 'status=none']);
    const r = await run(['cp', '--reflink=always', probe, `${probe}.clone`], { allowFailure: true });
    if (r.code !== 0) {
      throw new Error(
        `storage reflink: ${root} cannot clone files (${r.stderr.trim()}): use an XFS filesystem made with reflink=1, or btrfs`,
      );
    }
  } finally {
    await run(['rm', '-f', probe, `${probe}.clone`], { allowFailure: true });
  }
}

/** True when every line cp complained about is a source file that disappeared while it ran. */
export function onlyVanishedFiles(stderr: string): boolean {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  return lines.length > 0 && lines.every((l) => /^cp: cannot (stat|open) '.+'( for reading)?: No such file or directory$/.test(l.trim()));
}
