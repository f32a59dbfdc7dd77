import { describe, expect, it } from 'vitest';
import { enableQuotas } from '../../src/agent/storage/btrfs-quota.ts';
import type { Runner } from '../../src/agent/runner.ts';
import { CommandFailedError } from '../../src/agent/runner.ts';

/** A runner that records argv and fails the commands `fails` matches, like an old btrfs-progs or kernel would. */
function fakeRunner(fails: (argv: readonly string[]) => boolean): { run: Runner; calls: string[] } {
  const calls: string[] = [];
  const run: Runner = (argv) => {
    calls.push(argv.join(' '));
    if (argv[0] === 'findmnt') return Promise.resolve({ code: 0, stdout: '/pool\n', stderr: '' });
    if (argv[1] === 'filesystem') {
      // A uuid no sysfs has: quotas read as off.
      return Promise.resolve({ code: 0, stdout: 'Label: none  uuid: 00000000-0000-4000-8000-00000000beef\n', stderr: '' });
    }
    if (fails(argv)) return Promise.reject(new CommandFailedError(argv, 1, 'unrecognized option'));
    return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  };
  return { run, calls };
}

describe('btrfs quota mode (through the runner seam)', () => {
  it('prefers btrfs-progs `quota enable --simple`', async () => {
    const { run, calls } = fakeRunner(() => false);
    expect(await enableQuotas(run, '/pool/vols')).toBe('simple');
    expect(calls).toEqual([
      'findmnt --noheadings --output TARGET --target /pool/vols',
      'btrfs filesystem show /pool',
      'btrfs quota enable --simple /pool/vols',
    ]);
  });

  it('with btrfs-progs older than 6.7, enables simple quotas through the ioctl (perl, the path as its own argument)', async () => {
    const { run, calls } = fakeRunner((argv) => argv.includes('--simple'));
    expect(await enableQuotas(run, '/pool/vols')).toBe('simple');
    expect(calls[3]).toMatch(/^perl -e .*0xC0109428.* \/pool\/vols$/);
  });

  it('falls back to full qgroups when the kernel has no simple quotas', async () => {
    const { run, calls } = fakeRunner((argv) => argv.includes('--simple') || argv[0] === 'perl');
    expect(await enableQuotas(run, '/pool/vols')).toBe('full');
    expect(calls.at(-1)).toBe('btrfs quota enable /pool/vols');
  });
});
