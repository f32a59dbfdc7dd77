import { mkdir, readdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { BranchState } from '../../core/types.ts';
import { isBranchName } from '../../core/names.ts';

/** What the agent persists about a branch. Holds the password: the directory is 0700, files 0600. */
export interface BranchRecord {
  name: string;
  parent: string | null;
  state: BranchState;
  error?: string;
  port: number;
  database: string;
  user: string;
  password: string;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  protected: boolean;
  labels: Record<string, string>;
  storage: { driver: string; exclusiveBytes: number | null };
  timings: { createMs: number | null; resetMs?: number | null };
  /** A streaming hot standby of an outside source (physical `main`): read-only, its own upstream. */
  standby?: boolean;
  /** Set while a reset runs: a crash then redoes the reset instead of dropping the branch. */
  resetting?: boolean;
  /** The cluster's bootstrap superuser when it is not "postgres" (replicas of other clusters). */
  superuser?: string;
}

/**
 * One JSON file per branch, replaced atomically (write temp, fsync, rename, fsync dir),
 * so a crash leaves either the old or the new record, never half of one.
 */
export class Registry {
  private readonly dir: string;
  private readonly cache = new Map<string, BranchRecord>();

  constructor(dir: string) {
    this.dir = dir;
  }

  async load(): Promise<BranchRecord[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.cache.clear();
    for (const f of await readdir(this.dir)) {
      if (f.endsWith('.tmp')) {
        await rm(join(this.dir, f), { force: true });
        continue;
      }
      if (!f.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(await readFile(join(this.dir, f), 'utf8')) as BranchRecord;
        if (isBranchName(rec.name) && `${rec.name}.json` === f) this.cache.set(rec.name, rec);
      } catch {
        // An unreadable record cannot be a ready branch (ready ones are written atomically); recovery cleans its volume.
      }
    }
    return this.all();
  }

  all(): BranchRecord[] {
    return [...this.cache.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): BranchRecord | undefined {
    return this.cache.get(name);
  }

  has(name: string): boolean {
    return this.cache.has(name);
  }

  children(name: string): BranchRecord[] {
    return this.all().filter((r) => r.parent === name);
  }

  async put(rec: BranchRecord): Promise<void> {
    rec.updatedAt = new Date().toISOString();
    const file = join(this.dir, `${rec.name}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(rec, null, 2), { mode: 0o600 });
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
    await this.syncDir();
    this.cache.set(rec.name, structuredClone(rec));
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, `${name}.json`), { force: true });
    await this.syncDir();
    this.cache.delete(name);
  }

  private async syncDir(): Promise<void> {
    const fh = await open(this.dir, 'r');
    await fh.sync();
    await fh.close();
  }
}
