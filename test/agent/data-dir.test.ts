import { describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseDefaultDataDir, sharedDataDirFor } from '../../src/agent/data-dir.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { resolveAgentTarget } from '../../src/cli/config.ts';
import { describeWithPool } from '../helpers/env.ts';

describe('sharedDataDirFor', () => {
  it('gives each checkout path its own directory under /var/lib/vela-branch, the same one every time', () => {
    const a = sharedDataDirFor('/root/vela-branch/.vela');
    expect(a).toMatch(/^\/var\/lib\/vela-branch\/vela-branch-[0-9a-f]{8}$/);
    expect(sharedDataDirFor('/root/vela-branch/./.vela')).toBe(a);
    expect(sharedDataDirFor('/root/other/vela-branch/.vela')).not.toBe(a);
    expect(sharedDataDirFor('/srv/My Repo!/.vela')).toMatch(/\/my-repo-[0-9a-f]{8}$/);
    expect(sharedDataDirFor('/.vela')).toMatch(/\/root-[0-9a-f]{8}$/);
  });
});

describeWithPool('default data dir of a root agent', () => {
  const choose = (dataDir: string) => chooseDefaultDataDir({ dataDir, pgUser: 'vela', runner: processRunner, log: () => {} });

  it('moves out of a directory the postgres user cannot reach, says why, and stays where the state is', async () => {
    const home = await mkdtemp(join(tmpdir(), 'vela-home-')); // mode 0700, like /root
    const local = join(home, 'checkout', '.vela');
    const shared = sharedDataDirFor(local);
    await mkdir(join(home, 'checkout'), { mode: 0o755 });
    try {
      const hidden = await choose(local);
      expect(hidden.dir).toBe(shared);
      expect(hidden.note).toMatch(new RegExp(`^data dir ${shared}: ${local} is not reachable by the postgres OS user "vela"`));

      await chmod(home, 0o755);
      expect(await choose(local)).toEqual({ dir: local, note: null });

      // Once the shared dir holds state it keeps being used, even when ./.vela became reachable.
      await mkdir(join(shared, 'state'), { recursive: true });
      expect((await choose(local)).dir).toBe(shared);
      // ...and a ./.vela with state wins over it, reachable or not (the engine then names what to fix).
      await mkdir(join(local, 'state'), { recursive: true });
      await chmod(home, 0o700);
      expect(await choose(local)).toEqual({ dir: local, note: null });
    } finally {
      await rm(home, { recursive: true, force: true });
      await rm(shared, { recursive: true, force: true });
    }
  });

  it('lets the CLI find the admin token of the agent it started in that directory', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'vela-cwd-'));
    const shared = sharedDataDirFor(join(cwd, '.vela'));
    try {
      expect(resolveAgentTarget({}, cwd).tokenSource).toBe('none');
      await mkdir(shared, { recursive: true });
      await writeFile(join(shared, 'admin-token'), 'tok-from-shared\n', { mode: 0o600 });
      expect(resolveAgentTarget({}, cwd)).toMatchObject({ token: 'tok-from-shared', tokenSource: 'admin-token file' });
      await mkdir(join(cwd, '.vela'));
      await writeFile(join(cwd, '.vela', 'admin-token'), 'tok-local\n');
      expect(resolveAgentTarget({}, cwd).token).toBe('tok-local');
    } finally {
      await rm(cwd, { recursive: true, force: true });
      await rm(shared, { recursive: true, force: true });
    }
  });
});
