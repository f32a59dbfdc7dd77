import { mkdir, open, readFile, rename, rm, readdir, chmod } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { CapturedTransaction, QualifiedName } from './change-log-types.ts';
import { lsnBigint } from './lsn.ts';

/** What the change log knows about the capture it came from. */
export interface ChangeLogMeta {
  version: 1;
  slot: string;
  database: string;
  /** Where the slot started: the fork point of this log. */
  forkLsn: string;
  createdAt: string;
  /** Set when changes were lost (slot invalidated): a rebase must refuse, a reset starts over. */
  broken?: string;
  /**
   * Transactions 1..carried came from before a rebase (replayed onto the new volume, kept in the
   * log); the current slot's commits all lie after `forkLsn`.
   */
  carried?: number;
  /** Key columns per table (`schema.name`), learnt while draining: the data diff's sample keys. */
  keys?: Record<string, string[]>;
}

const LOG = 'log.jsonl';
const META = 'meta.json';

/** Where a branch's log ends: seq and commit LSN of its last transaction, and its valid length. */
interface Tail {
  seq: number;
  lsn: bigint;
  bytes: number;
}

/**
 * The agent's durable per-branch change log: `<root>/<branch>/log.jsonl`, one CapturedTransaction
 * per line, appended and fsynced before the slot is advanced; `meta.json` beside it. Directories
 * 0700, files 0600 (they hold the branch's data). A line cut short by a crash is dropped on open.
 */
export class ChangeLogStore {
  readonly root: string;
  private readonly tails = new Map<string, Tail>();

  constructor(root: string) {
    this.root = root;
  }

  dir(branch: string): string {
    return join(this.root, branch);
  }

  /** Starts a new, empty log for a fresh fork point (create, reset). */
  async reset(branch: string, meta: Omit<ChangeLogMeta, 'version'>): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    const dir = this.dir(branch);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    // Empty: a crash that loses it loses nothing (a missing log reads as empty); meta's fsyncs follow.
    await (await open(join(dir, LOG), 'w', 0o600)).close();
    this.tails.set(branch, { seq: 0, lsn: 0n, bytes: 0 });
    await this.writeMeta(branch, { version: 1, ...meta });
  }

  /**
   * Keeps the log across a rebase (its transactions were replayed onto the new volume: they are
   * still the branch's own changes) and ties it to the new volume's slot.
   */
  async carryOver(branch: string, p: { slot: string; forkLsn: string }): Promise<void> {
    const meta = await this.meta(branch);
    if (!meta) throw new Error(`branch ${branch} has no change log to carry over`);
    const tail = await this.tail(branch);
    await this.writeMeta(branch, { ...meta, slot: p.slot, forkLsn: p.forkLsn, carried: tail.seq });
    this.tails.set(branch, { ...tail, lsn: lsnBigint(p.forkLsn) });
  }

  /** Drops a branch's log (branch deleted, or a capture that never finished installing). */
  async remove(branch: string): Promise<void> {
    this.tails.delete(branch);
    await rm(this.dir(branch), { recursive: true, force: true });
  }

  /** Branches that have a log directory. */
  async branches(): Promise<string[]> {
    return readdir(this.root).catch(() => []);
  }

  async meta(branch: string): Promise<ChangeLogMeta | null> {
    const text = await readFile(join(this.dir(branch), META), 'utf8').catch(() => null);
    if (text === null) return null;
    try {
      return JSON.parse(text) as ChangeLogMeta;
    } catch {
      return null;
    }
  }

  /** Replaces meta.json atomically (temp, fsync, rename, fsync dir). */
  async writeMeta(branch: string, meta: ChangeLogMeta): Promise<void> {
    const dir = this.dir(branch);
    const tmp = join(dir, `${META}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    await fh.writeFile(JSON.stringify(meta, null, 2));
    await fh.sync();
    await fh.close();
    await rename(tmp, join(dir, META));
    await syncDir(dir);
  }

  /** The last transaction's seq and LSN (reading the file once, cutting a torn last line). */
  async tail(branch: string): Promise<Tail> {
    const known = this.tails.get(branch);
    if (known) return known;
    const path = join(this.dir(branch), LOG);
    const buf = await readFile(path).catch(() => Buffer.alloc(0));
    const end = buf.lastIndexOf(0x0a) + 1; // bytes up to the last complete line
    let tail: Tail = { seq: 0, lsn: 0n, bytes: end };
    if (end > 0) {
      const start = buf.lastIndexOf(0x0a, end - 2) + 1;
      const last = JSON.parse(buf.subarray(start, end - 1).toString('utf8')) as CapturedTransaction;
      tail = { seq: last.seq, lsn: lsnBigint(last.lsn), bytes: end };
      // Carried transactions' LSNs are of the volume before a rebase: not comparable with the slot's.
      const meta = await this.meta(branch);
      if (meta?.carried && last.seq <= meta.carried) tail.lsn = lsnBigint(meta.forkLsn);
    }
    if (end < buf.length) {
      // A crash cut the last line short: it was never fsynced as a whole, so the slot still has it.
      const fh = await open(path, 'r+');
      await fh.truncate(end);
      await fh.sync();
      await fh.close();
    }
    this.tails.set(branch, tail);
    return tail;
  }

  /**
   * Appends transactions newer than the log's last commit LSN (a re-read after a crash between
   * fsync and slot advance skips what is already here), numbering them on; fsyncs before returning.
   */
  async append(branch: string, txs: Array<Omit<CapturedTransaction, 'seq'>>): Promise<number> {
    const tail = await this.tail(branch);
    const lines: string[] = [];
    let { seq, lsn } = tail;
    for (const tx of txs) {
      const at = lsnBigint(tx.lsn);
      if (at <= lsn) continue;
      seq += 1;
      lsn = at;
      lines.push(JSON.stringify({ seq, ...tx }));
    }
    if (!lines.length) return 0;
    const text = Buffer.from(lines.join('\n') + '\n', 'utf8');
    let fh: FileHandle | null = null;
    try {
      fh = await open(join(this.dir(branch), LOG), 'a', 0o600);
      await fh.write(text);
      await fh.sync();
    } finally {
      await fh?.close();
    }
    this.tails.set(branch, { seq, lsn, bytes: tail.bytes + text.length });
    return lines.length;
  }

  /** Every transaction of the log, oldest first, streamed line by line. */
  async *read(branch: string): AsyncGenerator<CapturedTransaction> {
    const { bytes } = await this.tail(branch);
    if (bytes === 0) return;
    const stream = createReadStream(join(this.dir(branch), LOG), { start: 0, end: bytes - 1, encoding: 'utf8' });
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line) yield JSON.parse(line) as CapturedTransaction;
    }
  }

  /** Remembers the key columns of tables (for sample keys of the data diff). */
  async learnKeys(branch: string, keys: Map<string, string[]>): Promise<void> {
    if (!keys.size) return;
    const meta = await this.meta(branch);
    if (!meta) return;
    const known = meta.keys ?? {};
    let changed = false;
    for (const [table, cols] of keys) {
      if (known[table]?.join(',') === cols.join(',')) continue;
      known[table] = cols;
      changed = true;
    }
    if (changed) await this.writeMeta(branch, { ...meta, keys: known });
  }
}

export function tableKey(t: QualifiedName): string {
  return `${t.schema}.${t.name}`;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
