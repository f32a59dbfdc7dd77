import { readFile } from 'node:fs/promises';
import type { Runner } from '../runner.ts';
import type { CommitStats } from './driver.ts';

/** The pool's directory under /sys/fs/btrfs (named by the filesystem's uuid); null when not found. */
export async function poolSysfsDir(run: Runner, root: string): Promise<string | null> {
  // `filesystem show` takes a mount point, not a directory under one.
  const mountPoint = (await run(['findmnt', '--noheadings', '--output', 'TARGET', '--target', root])).stdout.trim();
  const shown = await run(['btrfs', 'filesystem', 'show', mountPoint]);
  const uuid = /uuid:\s*([0-9a-f-]{36})/i.exec(shown.stdout)?.[1];
  return uuid ? `/sys/fs/btrfs/${uuid}` : null;
}

/** Transaction commits since mount, from `commit_stats`. */
export async function readCommitStats(sysfsDir: string): Promise<CommitStats | null> {
  const text = await readFile(`${sysfsDir}/commit_stats`, 'utf8').catch(() => null);
  if (text === null) return null;
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  const stats = {
    commits: field('commits'),
    lastMs: field('last_commit_ms'),
    maxMs: field('max_commit_ms'),
    totalMs: field('total_commit_ms'),
  };
  return Object.values(stats).every(Number.isFinite) ? stats : null;
}
