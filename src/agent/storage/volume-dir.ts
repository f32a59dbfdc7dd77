import { mkdir, readdir, rename, statfs, chown, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { branchNameProblem, isStagingName } from '../../core/names.ts';
import type { PoolUsage, VolumeOwner } from './driver.ts';

/** Volumes live flat under one directory, named after their branch. */
export class VolumeDir {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  path(name: string): string {
    // Names are validated long before this; refuse anything else so no path can escape the pool.
    const problem = isStagingName(name) ? null : branchNameProblem(name);
    if (problem) throw new Error(problem);
    return join(this.root, name);
  }

  async ensure(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    await chmod(this.root, 0o755);
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory() && branchNameProblem(e.name) === null)
      .map((e) => e.name)
      .sort();
  }

  async listStaging(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory() && isStagingName(e.name))
      .map((e) => e.name)
      .sort();
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.path(from), this.path(to));
  }

  async usage(): Promise<PoolUsage> {
    const s = await statfs(this.root);
    return { usedBytes: (s.blocks - s.bfree) * s.bsize, freeBytes: s.bavail * s.bsize };
  }

  async own(path: string, owner: VolumeOwner | null): Promise<void> {
    if (owner) await chown(path, owner.uid, owner.gid);
    await chmod(path, 0o700);
  }
}
