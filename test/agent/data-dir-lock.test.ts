import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLocked, LOCK_FILE, lockDataDir } from '../../src/agent/data-dir-lock.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vela-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('data dir lock', () => {
  it('a second holder is refused with the first one’s pid; release frees it', async () => {
    const lock = await lockDataDir(dir);
    expect((await readFile(join(dir, LOCK_FILE), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    const err = await lockDataDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLocked);
    expect((err as DataDirLocked).message).toContain(`pid ${process.pid}`);
    await lock.release();
    await expect(stat(join(dir, LOCK_FILE))).rejects.toThrow(/ENOENT/);
    const again = await lockDataDir(dir);
    await again.release();
  });

  it('takes over the lock of a holder that is gone (kill -9)', async () => {
    await writeFile(join(dir, LOCK_FILE), `${deadPid()} 12345\n`);
    const lock = await lockDataDir(dir);
    expect((await readFile(join(dir, LOCK_FILE), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    await lock.release();
  });

  it('a live pid with another start time is a reused pid, not a holder', async () => {
    await writeFile(join(dir, LOCK_FILE), `${process.pid} 1\n`);
    const lock = await lockDataDir(dir);
    await lock.release();
  });

  it('release leaves a lock another agent holds now', async () => {
    const lock = await lockDataDir(dir);
    await writeFile(join(dir, LOCK_FILE), '1 1\n');
    await lock.release();
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe('1 1\n');
  });
});
