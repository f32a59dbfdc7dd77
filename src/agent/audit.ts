import { mkdir, open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditRecord } from '../core/client.ts';

export type AuditInput = Omit<AuditRecord, 'id' | 'time'> & { time?: string };

export interface AuditListOptions {
  limit?: number;
  branch?: string;
}

const DEFAULT_LIMIT = 100;

/**
 * The append-only audit trail: one JSON object per line. Ids keep counting across restarts,
 * each append is fsynced, and a torn last line left by a crash is skipped rather than fatal.
 */
export class AuditLog {
  private readonly path: string;
  private handle: FileHandle | null = null;
  private lastId = 0;
  private opening: Promise<void> | null = null;
  // Appends run one after another so ids are assigned and written in the same order.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  append(input: AuditInput): Promise<AuditRecord> {
    const next = this.queue.then(() => this.write(input));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Newest first. */
  async list(opts: AuditListOptions = {}): Promise<AuditRecord[]> {
    const limit = Math.max(0, Math.floor(opts.limit ?? DEFAULT_LIMIT));
    await this.queue; // include appends already promised to callers
    const records = await this.readAll();
    const out: AuditRecord[] = [];
    for (let i = records.length - 1; i >= 0 && out.length < limit; i--) {
      const rec = records[i];
      if (opts.branch === undefined || rec.branch === opts.branch) out.push(rec);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.queue;
    const h = this.handle;
    this.handle = null;
    this.opening = null;
    await h?.close();
  }

  private async write(input: AuditInput): Promise<AuditRecord> {
    await this.ensureOpen();
    const record: AuditRecord = {
      id: this.lastId + 1,
      time: input.time ?? new Date().toISOString(),
      actor: input.actor,
      action: input.action,
      branch: input.branch,
      result: input.result,
      status: input.status,
    };
    if (input.requestId !== undefined) record.requestId = input.requestId;
    if (input.detail !== undefined) record.detail = input.detail;
    await this.handle!.write(JSON.stringify(record) + '\n');
    await this.handle!.datasync();
    this.lastId = record.id;
    return record;
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
    const text = await readText(this.path);
    const records = parseLines(text);
    this.lastId = records.reduce((max, r) => Math.max(max, r.id), 0);
    const handle = await open(this.path, 'a', 0o600);
    // A crash mid-write leaves a line without its newline; end it so the next record starts clean.
    if (text.length > 0 && !text.endsWith('\n')) await handle.write('\n');
    this.handle = handle;
  }

  private async readAll(): Promise<AuditRecord[]> {
    return parseLines(await readText(this.path));
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

function parseLines(text: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const rec = JSON.parse(line) as AuditRecord;
      if (rec && typeof rec === 'object' && Number.isSafeInteger(rec.id)) out.push(rec);
    } catch {
      // torn or corrupt line (crash mid-append): skip it, keep the rest of the trail
    }
  }
  return out;
}
