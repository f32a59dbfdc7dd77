import { mkdir, readdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { branchState } from '../../core/api/index.ts';
import type { BranchState } from '../../core/api/index.ts';
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
  timings: { createMs: number | null; resetMs?: number | null; rebaseMs?: number | null };
  /** A streaming hot standby of an outside source (physical `main`): read-only, its own upstream. */
  standby?: boolean;
  /** Set while a reset runs: a crash then redoes the reset instead of dropping the branch. */
  resetting?: boolean;
  /**
   * Set while a rebase runs (written before its first step): `replaying` builds the new volume
   * beside the branch (a crash undoes it), `swapping` puts it in place (a crash finishes it).
   */
  rebasing?: { phase: 'replaying' | 'swapping'; startedAt: string };
  /** The cluster's bootstrap superuser when it is not "postgres" (replicas of other clusters). */
  superuser?: string;
  /**
   * Masked parents (templates) only: `build` names the data this volume holds (new on every create
   * and reset); `maskedBuild` equals it once that data's masking SQL and scrub finished.
   */
  mask?: { build: string; maskedBuild: string | null; error?: string };
}

export interface QuarantinedRecord {
  /** The branch the file was named for. */
  branch: string;
  file: string;
  movedTo: string;
  reason: string;
}

/** Why a record file cannot be trusted, or null when it can. */
export function recordProblem(text: string, file: string): string | null {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return text.trim() === '' ? 'the file is empty' : 'the file is not valid JSON (truncated or corrupt)';
  }
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) return 'the file holds no record';
  const r = rec as Record<string, unknown>;
  if (typeof r.name !== 'string' || !isBranchName(r.name)) return 'the record has no valid branch name';
  if (`${r.name}.json` !== file) return `the record names branch ${r.name}, not the one its file is named for`;
  if (!branchState.safeParse(r.state).success) return 'the record has no valid state';
  if (!Number.isInteger(r.port)) return 'the record has no port';
  for (const k of ['user', 'password', 'database']) if (typeof r[k] !== 'string') return `the record has no ${k}`;
  if (r.parent !== null && typeof r.parent !== 'string') return 'the record has no valid parent';
  return null;
}

/**
 * One JSON file per branch, replaced atomically (write temp, fsync, rename, fsync dir),
 * so a crash leaves either the old or the new record, never half of one. Readers get copies: a
 * change is seen only once `put` has it on disk, so a failed write (full disk) shows nothing.
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
    this.quarantined = [];
    for (const f of await readdir(this.dir)) {
      if (f.endsWith('.tmp')) {
        await rm(join(this.dir, f), { force: true });
        continue;
      }
      if (!f.endsWith('.json')) continue;
      const text = await readFile(join(this.dir, f), 'utf8');
      const problem = recordProblem(text, f);
      if (problem === null) {
        const rec = JSON.parse(text) as BranchRecord;
        this.cache.set(rec.name, rec);
      } else {
        // Unreadable state is never acted on: the file is moved aside and the branch's volume kept.
        this.quarantined.push(await this.quarantine(f, problem));
      }
    }
    return this.all();
  }

  /** Records this load moved aside, with why (for the log, health and doctor). */
  quarantined: QuarantinedRecord[] = [];

  /** Where unreadable records go: state/quarantine/, beside the registry. */
  get quarantineDir(): string {
    return join(dirname(this.dir), 'quarantine');
  }

  private async quarantine(file: string, reason: string): Promise<QuarantinedRecord> {
    await mkdir(this.quarantineDir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const movedTo = join(this.quarantineDir, `${file}.${stamp}`);
    await rename(join(this.dir, file), movedTo);
    await this.syncDir();
    return { branch: file.replace(/\.json$/, ''), file: join(this.dir, file), movedTo, reason };
  }

  all(): BranchRecord[] {
    return this.copies(() => true);
  }

  get(name: string): BranchRecord | undefined {
    const rec = this.cache.get(name);
    return rec && structuredClone(rec);
  }

  has(name: string): boolean {
    return this.cache.has(name);
  }

  children(name: string): BranchRecord[] {
    return this.copies((r) => r.parent === name);
  }

  /** Copies of the records `keep` selects, by name; only those are cloned. */
  private copies(keep: (r: BranchRecord) => boolean): BranchRecord[] {
    return [...this.cache.values()]
      .filter(keep)
      .map((r) => structuredClone(r))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every branch's port, without copying the records (the port allocator). */
  ports(): number[] {
    return [...this.cache.values()].map((r) => r.port);
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
