import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Runner } from '../runner.ts';
import type { OsUser } from './os-user.ts';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

/**
 * The only way the root agent touches paths the postgres OS user can write (a branch's data dir,
 * its socket dir, its log file): never through a symlink, never blocking on a FIFO, and owner and
 * mode set through the open handle, so a planted link cannot turn a root write or chown into one
 * on a file outside the branch. Without a postgres user (agent not root) there is nothing to guard.
 */
export class SafeFiles {
  private readonly user: OsUser | null;
  private readonly run: Runner;

  constructor(opts: { user: OsUser | null; runner: Runner }) {
    this.user = opts.user;
    this.run = opts.runner;
  }

  /** A regular file's text; null when it is missing, a symlink, or anything but a regular file. */
  async read(path: string): Promise<string | null> {
    const fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch(() => null);
    if (!fh) return null;
    try {
      if (!(await fh.stat()).isFile()) return null;
      return await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  }

  /** Bytes after `offset` of a regular file (empty when missing or not a regular file). */
  async readSince(path: string, offset: number): Promise<string> {
    const fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch(() => null);
    if (!fh) return '';
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size <= offset) return '';
      const buf = Buffer.alloc(st.size - offset);
      await fh.read(buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  }

  /**
   * Replaces `path` with `text`, owned by the postgres user: a fresh temp name opened with
   * O_CREAT|O_EXCL|O_NOFOLLOW, owner and mode set through the handle, then renamed over the
   * target (rename replaces a symlink, it never writes through one).
   */
  async replace(path: string, text: string, mode = 0o600): Promise<void> {
    const tmp = join(dirname(path), `.vela-${basename(path)}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    let written = false;
    try {
      await this.own(fh, mode);
      await fh.writeFile(text);
      written = true;
    } finally {
      await fh.close();
      if (!written) await unlink(tmp).catch(() => {});
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      // A directory planted at the name: it belongs to the branch, so it goes.
      if (!['EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await this.removeTree(path);
      await rename(tmp, path);
    }
  }

  /**
   * An append-only log file for the postgres user in a root-owned directory: opened with
   * O_NOFOLLOW (never through a link left from older versions), owner set through the handle.
   * Returns its size, where this run's output starts.
   */
  async logFile(path: string): Promise<number> {
    const flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
    let fh = await open(path, flags, 0o600).catch(() => null);
    if (fh && !(await fh.stat()).isFile()) {
      await fh.close();
      fh = null;
    }
    if (!fh) {
      await this.removeTree(path);
      fh = await open(path, flags | O_EXCL, 0o600);
    }
    try {
      await this.own(fh, 0o600);
      return (await fh.stat()).size;
    } finally {
      await fh.close();
    }
  }

  /**
   * A real directory at `path` (its parent must be root's), owned by `owner` (root when null) with
   * `mode`, set through its handle; a symlink or file found there is removed first.
   */
  async dir(path: string, owner: 'root' | 'postgres', mode: number): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await mkdir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    let fh = await open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch(() => null);
    if (!fh) {
      await this.removeTree(path);
      await mkdir(path);
      fh = await open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    }
    try {
      if (owner === 'root') {
        if (this.user) await fh.chown(0, 0);
        await fh.chmod(mode);
      } else {
        await this.own(fh, mode);
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * Removes a file or tree the postgres user may have filled: its contents as that user (who can
   * delete only what it could anyway), then the emptied entry as root with rmdir/unlink, neither
   * of which follows a symlink.
   */
  async removeTree(path: string): Promise<void> {
    const st = await lstat(path).catch(() => null);
    if (!st) return;
    if (!st.isDirectory()) {
      await unlink(path).catch(ignoreMissing);
      return;
    }
    if (!this.user) {
      await rm(path, { recursive: true, force: true });
      return;
    }
    const entries = await readdir(path).catch(() => [] as string[]);
    if (entries.length) {
      await this.run(['rm', '-rf', '--one-file-system', '--', ...entries.map((e) => join(path, e))], {
        uid: this.user.uid,
        gid: this.user.gid,
        allowFailure: true,
      });
    }
    await rmdir(path).catch(ignoreMissing);
  }

  private async own(fh: FileHandle, mode: number): Promise<void> {
    if (this.user) await fh.chown(this.user.uid, this.user.gid);
    await fh.chmod(mode);
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
