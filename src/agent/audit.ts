import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditRecord } from '../core/api/responses.ts';
import { linesFromEnd, parseRecord, recordsFromEnd, rotate, sizeOf, trailFiles } from './audit-files.ts';

export type AuditInput = Omit<AuditRecord, 'id' | 'time'> & { time?: string };

/** A refused request (401, 403, 429): counted, then written as one record per kind. */
export interface DeniedInput {
  actor: string;
  action: string;
  branch: string | null;
  status: number;
  client: string;
  requestId?: string;
}

export interface AuditListOptions {
  limit?: number;
  branch?: string;
}

export interface AuditOptions {
  /** Rotate the current file once it is larger than this. */
  maxBytes?: number;
  /** Rotated files kept (audit.jsonl.1 … .N). */
  keep?: number;
  /** How long refused requests are counted before their summary is written. */
  deniedFlushMs?: number;
}

const DEFAULT_LIMIT = 100;
/** Summaries pending at once; more is a flood: write them now. */
const MAX_PENDING = 1000;

interface Pending extends DeniedInput {
  count: number;
  first: string;
  last: string;
}

/**
 * The append-only audit trail: one JSON object per line. Ids keep counting across restarts and
 * rotations, each append is fsynced, and a torn last line left by a crash is skipped rather than
 * fatal. Refused requests are aggregated (one fsync per batch, not per request) so a flood of bad
 * tokens cannot turn the trail into a disk benchmark.
 */
export class AuditLog {
  private readonly path: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly flushMs: number;
  private handle: FileHandle | null = null;
  private size = 0;
  private lastId = 0;
  private opening: Promise<void> | null = null;
  // Appends run one after another so ids are assigned and written in the same order.
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;

  constructor(path: string, opts: AuditOptions = {}) {
    this.path = path;
    this.maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
    this.keep = opts.keep ?? 4;
    this.flushMs = opts.deniedFlushMs ?? 5000;
  }

  append(input: AuditInput): Promise<AuditRecord> {
    return this.enqueue(async () => (await this.write([input]))[0]);
  }

  /** Counts a refused request; written within deniedFlushMs (or at the next list/close). */
  denied(input: DeniedInput): void {
    const key = JSON.stringify([input.actor, input.action, input.branch, input.status, input.client]);
    const now = new Date().toISOString();
    const p = this.pending.get(key);
    if (p) {
      p.count++;
      p.last = now;
      p.requestId = input.requestId;
    } else {
      this.pending.set(key, { ...input, count: 1, first: now, last: now });
    }
    if (this.pending.size >= MAX_PENDING) void this.flushDenied().catch(() => {});
    else this.timer ??= setTimeout(() => void this.flushDenied().catch(() => {}), this.flushMs).unref();
  }

  /** Writes the pending summaries of refused requests (one fsync for all of them). */
  flushDenied(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return this.queue.then(() => undefined);
    const batch = [...this.pending.values()];
    this.pending.clear();
    return this.enqueue(async () => {
      await this.write(batch.map(summary));
    });
  }

  /** Newest first, read from the end of the trail: the cost follows `limit`, not the file size. */
  async list(opts: AuditListOptions = {}): Promise<AuditRecord[]> {
    const limit = Math.max(0, Math.floor(opts.limit ?? DEFAULT_LIMIT));
    await this.flushDenied(); // include refusals counted so far and appends already promised
    const out: AuditRecord[] = [];
    if (limit === 0) return out;
    for await (const rec of recordsFromEnd(this.path, this.keep)) {
      if (opts.branch === undefined || rec.branch === opts.branch) out.push(rec);
      if (out.length >= limit) break;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.flushDenied();
    await this.queue;
    const h = this.handle;
    this.handle = null;
    this.opening = null;
    await h?.close();
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async write(inputs: AuditInput[]): Promise<AuditRecord[]> {
    await this.ensureOpen();
    if (this.size >= this.maxBytes) await this.rotateNow();
    const records = inputs.map((input, i) => toRecord(input, this.lastId + 1 + i));
    const text = records.map((r) => JSON.stringify(r) + '\n').join('');
    await this.handle!.write(text);
    await this.handle!.datasync();
    this.size += Buffer.byteLength(text);
    this.lastId += records.length;
    return records;
  }

  private async rotateNow(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
    await rotate(this.path, this.keep);
    this.handle = await open(this.path, 'a+', 0o600);
    this.size = 0;
  }

  private ensureOpen(): Promise<void> {
    this.opening ??= this.openFile().catch((err: unknown) => {
      this.opening = null;
      throw err;
    });
    return this.opening;
  }

  private async openFile(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    this.lastId = await lastIdOf(this.path, this.keep);
    const handle = await open(this.path, 'a+', 0o600);
    this.size = await sizeOf(this.path);
    // A crash mid-write leaves a line without its newline; end it so the next record starts clean.
    if (this.size > 0 && !(await endsWithNewline(handle, this.size))) {
      await handle.write('\n');
      this.size++;
    }
    this.handle = handle;
  }
}

function toRecord(input: AuditInput, id: number): AuditRecord {
  const record: AuditRecord = {
    id,
    time: input.time ?? new Date().toISOString(),
    actor: input.actor,
    action: input.action,
    branch: input.branch,
    result: input.result,
    status: input.status,
  };
  if (input.requestId !== undefined) record.requestId = input.requestId;
  if (input.detail !== undefined) record.detail = input.detail;
  return record;
}

function summary(p: Pending): AuditInput {
  const times = p.count === 1 ? `at ${p.first}` : `from ${p.first} to ${p.last}`;
  return {
    time: p.last,
    actor: p.actor,
    action: p.action,
    branch: p.branch,
    result: 'denied',
    status: p.status,
    requestId: p.requestId,
    detail: `${p.count} request${p.count === 1 ? '' : 's'} from ${p.client} ${times}`,
  };
}

/** The highest id in the trail: the last readable line of the newest file that has one. */
async function lastIdOf(path: string, keep: number): Promise<number> {
  for (const file of trailFiles(path, keep)) {
    for await (const line of linesFromEnd(file)) {
      const rec = parseRecord(line);
      if (rec) return rec.id;
    }
  }
  return 0;
}

async function endsWithNewline(fh: FileHandle, size: number): Promise<boolean> {
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, size - 1);
  return b[0] === 10;
}
