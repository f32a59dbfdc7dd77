import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from '../storage/driver.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import { processesUnder, volumeOf, kill, alive } from '../postgres/processes.ts';
import { ROOT_BRANCH, quarantineName } from '../../core/names.ts';

/** What a crash can leave behind that no record accounts for: processes, volumes, socket dirs. */
export class CrashLeftovers {
  private readonly parts: { storage: StorageDriver; pg: PostgresControl };

  constructor(parts: { storage: StorageDriver; pg: PostgresControl }) {
    this.parts = parts;
  }

  /** Kills processes working on volumes not in `keep` (pg_ctl and postmasters of half-made branches). */
  async killStrays(keep: Set<string>): Promise<string[]> {
    const root = this.parts.storage.volumePath(ROOT_BRANCH).replace(/\/main$/, '');
    const killed: string[] = [];
    for (const proc of await processesUnder(root)) {
      const vol = volumeOf(proc, root);
      if (vol && keep.has(vol)) continue;
      kill(proc.pid, 'SIGKILL');
      killed.push(`process ${proc.pid} (${vol ?? '?'})`);
    }
    // Postmaster children exit once their parent is gone; wait so volumes can be deleted.
    for (const proc of await processesUnder(root)) {
      const vol = volumeOf(proc, root);
      if (vol && keep.has(vol)) continue;
      for (let i = 0; i < 100 && alive(proc.pid); i++) await new Promise((r) => setTimeout(r, 20));
    }
    return killed;
  }

  /**
   * Moves volumes no branch claims into quarantine (`.quarantine-<name>-<stamp>`): never deleted on a
   * guess, out of the way of a new branch of that name, listed by doctor. Returns old and new names.
   */
  async quarantineOrphanVolumes(claimed: (volume: string) => boolean, now = new Date()): Promise<string[]> {
    const moved: string[] = [];
    for (const vol of await this.parts.storage.list()) {
      if (claimed(vol)) continue;
      const to = quarantineName(vol, now);
      await this.parts.storage.rename(vol, to);
      moved.push(`${vol} → ${to}`);
    }
    return moved;
  }

  /** Removes socket dirs of ports no branch owns. */
  async removeStraySocketDirs(owned: number[]): Promise<void> {
    const keep = new Set(owned.map(String));
    const root = this.parts.pg.socketRoot;
    for (const entry of await readdir(root).catch(() => [] as string[])) {
      if (!keep.has(entry)) await this.parts.pg.files.removeTree(join(root, entry));
    }
  }
}
