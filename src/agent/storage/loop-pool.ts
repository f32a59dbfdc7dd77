import { mkdir, readFile, access, open } from 'node:fs/promises';
import type { Runner } from '../runner.ts';
import { assertBtrfsTools } from './btrfs.ts';

/** Is `dir` a mount point? (from /proc/self/mountinfo, which unescapes nothing: compare octal-escaped) */
export async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountOptions(dir)) !== null;
}

/** The mount options of the mount at `dir` (`rw,nosuid,nodev,…`), null when nothing is mounted there. */
async function mountOptions(dir: string): Promise<string[] | null> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = dir.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const line = info.split('\n').find((l) => l.split(' ')[4] === escaped);
  return line ? line.split(' ')[5].split(',') : null;
}

/**
 * A sparse image file formatted as btrfs and loop-mounted: gives a root agent CoW storage
 * on any host filesystem. Re-mounted (not re-made) when it already exists.
 */
export async function ensureLoopPool(
  run: Runner,
  image: string,
  mountPoint: string,
  sizeGiB: number,
  log: (msg: string) => void,
): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'a loop-mounted btrfs pool needs root: run the agent as root, mount btrfs at the data dir yourself, or choose --storage reflink|copy',
    );
  }
  await assertBtrfsTools(run);
  await mkdir(mountPoint, { recursive: true });
  const mounted = await mountOptions(mountPoint);
  if (mounted) {
    // A pool mounted by an older version: no set-uid binaries or device nodes from a branch, ever.
    // Only then: a remount syncs the whole pool (seconds with hundreds of branches).
    if (!mounted.includes('nosuid') || !mounted.includes('nodev')) {
      await run(['mount', '-o', 'remount,nosuid,nodev', mountPoint], { allowFailure: true });
    }
    return;
  }
  const exists = await access(image).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const fh = await open(image, 'wx', 0o600);
    await fh.truncate(Math.round(sizeGiB * 1024 ** 3));
    await fh.close();
    await run(['mkfs.btrfs', '-q', image]);
    log(`created a ${sizeGiB} GiB sparse btrfs pool image ${image}`);
  }
  // The pool holds files the postgres user writes: nothing in it may act as set-uid or a device.
  await run(['mount', '-o', 'loop,nosuid,nodev', image, mountPoint]);
  log(`mounted btrfs pool ${image} at ${mountPoint}`);
}

export async function unmountLoopPool(run: Runner, mountPoint: string): Promise<void> {
  if (await isMountPoint(mountPoint)) await run(['umount', mountPoint]);
}
