import { readdir, readFile } from 'node:fs/promises';
import type { Runner } from '../runner.ts';
import { poolSysfsDir } from './btrfs-sysfs.ts';

/**
 * How btrfs charges a branch's bytes. `simple` (squota, Linux 6.7+) charges each extent to the
 * subvolume that wrote it, O(1) per extent. `full` qgroups walk every snapshot sharing an extent at
 * each transaction commit: with hundreds of branches of one parent a snapshot took seconds (bench/scale).
 */
export type QuotaMode = 'simple' | 'full';

// BTRFS_IOC_QUOTA_CTL = _IOWR(0x94, 40, struct { u64 cmd; u64 status; }), cmd 4 = enable simple quotas.
// btrfs-progs before 6.7 (Debian 12 ships 6.2) has no `quota enable --simple`; perl-base is on every Debian.
const ENABLE_SIMPLE = [
  'open(my $fh, "<", $ARGV[0]) or die "$ARGV[0]: $!\\n";',
  'my $args = pack("QQ", 4, 0);',
  'ioctl($fh, 0xC0109428, $args) or die "BTRFS_IOC_QUOTA_CTL: $!\\n";',
].join(' ');

export const FULL_QGROUPS_WARNING =
  'btrfs quotas are full qgroups: every snapshot and commit walks all branches sharing an extent, so creates slow down as branches pile up. ' +
  'Simple quotas (Linux 6.7+) do not: with no branches running, `btrfs quota disable <pool>` and restart the agent to switch';

/** Turns quotas on (simple where the kernel has them) and says which mode the pool ends up in. */
export async function enableQuotas(run: Runner, root: string): Promise<QuotaMode> {
  const current = await quotaMode(run, root);
  if (current) return current;
  const attempts: (readonly string[])[] = [
    ['btrfs', 'quota', 'enable', '--simple', root],
    ['perl', '-e', ENABLE_SIMPLE, root],
  ];
  for (const argv of attempts) {
    try {
      await run(argv);
      return 'simple';
    } catch {
      // progs too old, no perl, or a kernel without simple quotas: the next way, then full qgroups
    }
  }
  await run(['btrfs', 'quota', 'enable', root]);
  return 'full';
}

/** The mode quotas are on in, from sysfs; null when they are off. */
async function quotaMode(run: Runner, root: string): Promise<QuotaMode | null> {
  const sysfs = await poolSysfsDir(run, root);
  if (!sysfs) return null;
  const dir = `${sysfs}/qgroups`;
  const entries = await readdir(dir).catch(() => null);
  if (!entries) return null;
  // Kernels before simple quotas have no `mode` file: what is on is full qgroups.
  const mode = await readFile(`${dir}/mode`, 'utf8').catch(() => 'qgroup');
  return mode.trim() === 'squota' ? 'simple' : 'full';
}
