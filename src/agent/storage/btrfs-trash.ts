import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';

/** Where deleted volumes wait, inside the volume root (same subvolume, so a rename moves them). */
export const TRASH_DIR = '.trash';

export interface TrashOptions {
  /** No subvolume is deleted until this long after the last snapshot started or ended. */
  quietMs: number;
  /** With this many waiting, they are deleted whatever the snapshots do (the space is wanted back). */
  maxWaiting: number;
  warn: (msg: string) => void;
}

export const TRASH_DEFAULTS = { quietMs: 2000, maxWaiting: 16 };

/** Deleted subvolumes of the filesystem holding `path` that btrfs has not freed yet. */
export async function uncleanedSubvolumes(run: Runner, path: string): Promise<number> {
  const r = await run(['btrfs', 'subvolume', 'list', '-d', path]);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Deleted branch volumes, freed when snapshots are not waiting. btrfs frees a deleted subvolume in
 * the background, and every snapshot's commit meanwhile waits for that work: in bench/scale, seven
 * deletes still being freed made the next snapshots take ~500 ms instead of ~30. So a delete only
 * renames the volume here (the name is free at once); this deletes one subvolume at a time once no
 * snapshot ran for `quietMs`, and waits until btrfs has freed it before the next.
 */
export class BtrfsTrash {
  private readonly dir: string;
  private readonly pool: string;
  private readonly run: Runner;
  private readonly opts: TrashOptions;
  private snapshots = 0;
  private lastSnapshot = 0;
  private seq = 0;
  private loop: Promise<void> | null = null;
  private closed = false;
  private urgent = false;

  constructor(volumeRoot: string, run: Runner, opts: TrashOptions) {
    this.pool = volumeRoot;
    this.dir = join(volumeRoot, TRASH_DIR);
    this.run = run;
    this.opts = opts;
  }

  /** Marks a snapshot in flight, so the trash keeps still until it is done. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.snapshots++;
    this.lastSnapshot = Date.now();
    try {
      return await work();
    } finally {
      this.snapshots--;
      this.lastSnapshot = Date.now();
    }
  }

  /** Moves a volume into the trash and wakes the deleter. */
  async put(path: string, name: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Named by time first, so the oldest is deleted first.
    await rename(path, join(this.dir, `${Date.now()}-${this.seq++}-${name}`));
    this.wake();
  }

  /** Volumes still waiting (a crash leaves some; the next start frees them). */
  async waiting(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).sort();
  }

  /** Starts the deleter when it is not running (at open, for what a crash left behind). */
  wake(): void {
    if (this.closed || this.loop) return;
    this.loop = this.drain()
      .catch((e: Error) => this.opts.warn(`freeing deleted volumes: ${e.message}`))
      .finally(() => {
        this.loop = null;
      });
  }

  /** Deletes everything waiting now, quiet or not, and returns once btrfs has freed it. */
  async empty(): Promise<void> {
    this.urgent = true;
    try {
      this.wake();
      while (this.loop) await this.loop;
      // A deleter stopped by close() leaves the rest: nothing to wait for then.
      if (!this.closed && (await this.waiting()).length) throw new Error(`${this.dir} could not be emptied (see the log)`);
    } finally {
      this.urgent = false;
    }
  }

  /** Stops after the current step; what is left waits for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if ((await this.waiting()).length === 0 || this.closed) return;
      await this.untilQuiet();
      // Oldest first; read again, as more may have come while this waited.
      const items = await this.waiting();
      if (items.length === 0 || this.closed) return;
      const path = join(this.dir, items[0]);
      const r = await this.run(['btrfs', 'subvolume', 'delete', '--commit-after', path], { allowFailure: true });
      // Gone already is fine (an engine being replaced deleted it); anything else stops this round.
      if (r.code !== 0 && (await stat(path).catch(() => null))) throw new Error(`btrfs subvolume delete ${path}: ${r.stderr.trim()}`);
      await this.untilFreed();
    }
  }

  private async untilQuiet(): Promise<void> {
    for (;;) {
      if (this.closed || this.urgent) return;
      if (this.snapshots === 0 && Date.now() - this.lastSnapshot >= this.opts.quietMs) return;
      if ((await this.waiting()).length >= this.opts.maxWaiting) return;
      await sleep(250);
    }
  }

  /** `btrfs subvolume sync` polls once a second; this polls the same list at a finer step and can stop. */
  private async untilFreed(): Promise<void> {
    while (!this.closed && (await uncleanedSubvolumes(this.run, this.pool)) > 0) await sleep(100);
  }
}
