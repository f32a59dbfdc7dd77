import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

/** Why the real-pool suites cannot run here, or null when they can. */
export function poolUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to loop-mount a btrfs pool and run postgres as an unprivileged user';
  try {
    execFileSync('btrfs', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs btrfs-progs (apt-get install btrfs-progs)';
  }
  return null;
}

/**
 * describe() for suites that need root and a real btrfs pool. Without them the suite is skipped
 * with the reason printed, except under CI=true, where the skip itself is a failure.
 */
export function describeWithPool(name: string, fn: () => void): void {
  const reason = poolUnavailableReason();
  if (!reason) {
    describe(name, fn);
    return;
  }
  if (underCi()) {
    describe(name, () => {
      throw new Error(`${name}: cannot run under CI: ${reason}`);
    });
    return;
  }
  process.stderr.write(`SKIP ${name}: ${reason}\n`);
  describe.skip(`${name} (skipped: ${reason})`, fn);
}

/** CI=true (or 1, yes): any value but empty, "0" and "false". */
export function underCi(): boolean {
  const v = (process.env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}
