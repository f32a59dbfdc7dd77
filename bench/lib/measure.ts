import { processRunner } from '../../src/agent/runner.ts';

/** Time one async operation from the outside, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/** `btrfs filesystem du` of a path: total bytes and bytes no other file or snapshot shares. */
export async function btrfsDu(path: string): Promise<{ totalBytes: number; exclusiveBytes: number }> {
  const r = await processRunner(['btrfs', 'filesystem', 'du', '-s', '--raw', path]);
  const cols = (r.stdout.trim().split('\n').pop() ?? '').trim().split(/\s+/);
  const totalBytes = Number(cols[0]);
  const exclusiveBytes = Number(cols[1]);
  if (!Number.isFinite(totalBytes) || !Number.isFinite(exclusiveBytes))
    throw new Error(`cannot read btrfs filesystem du output: ${r.stdout.slice(0, 200)}`);
  return { totalBytes, exclusiveBytes };
}
