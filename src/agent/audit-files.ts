import { open, rename, rm, stat } from 'node:fs/promises';
import type { AuditRecord } from '../core/api/responses.ts';

/**
 * The audit trail's files: `audit.jsonl` (current), then `audit.jsonl.1` … `.N` (older), rotated by
 * size. Reading goes backwards from the end in fixed chunks, so a query costs what it returns.
 */
const CHUNK = 64 * 1024;

/** Current file first, then older ones. */
export function trailFiles(path: string, keep: number): string[] {
  return [path, ...Array.from({ length: keep }, (_, i) => `${path}.${i + 1}`)];
}

/** Moves audit.jsonl to .1 (and .1 to .2 …); the oldest beyond `keep` is dropped. */
export async function rotate(path: string, keep: number): Promise<void> {
  const files = trailFiles(path, keep);
  await rm(files[files.length - 1], { force: true });
  for (let i = files.length - 2; i >= 0; i--) {
    await rename(files[i], files[i + 1]).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

export async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

/** Lines of one file, last first; a missing file has none. */
export async function* linesFromEnd(path: string): AsyncGenerator<string> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!fh) return;
  try {
    let pos = (await fh.stat()).size;
    let carry = Buffer.alloc(0);
    while (pos > 0) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      let joined = Buffer.concat([buf, carry]);
      let nl = joined.lastIndexOf(10);
      while (nl >= 0) {
        const line = joined.subarray(nl + 1).toString('utf8');
        if (line.trim() !== '') yield line;
        joined = joined.subarray(0, nl);
        nl = joined.lastIndexOf(10);
      }
      carry = joined;
    }
    const first = carry.toString('utf8');
    if (first.trim() !== '') yield first;
  } finally {
    await fh.close();
  }
}

/** A record, or null for a torn or corrupt line (a crash mid-append): skipped, never fatal. */
export function parseRecord(line: string): AuditRecord | null {
  try {
    const rec = JSON.parse(line) as AuditRecord;
    return rec && typeof rec === 'object' && Number.isSafeInteger(rec.id) ? rec : null;
  } catch {
    return null;
  }
}

/** Records of the whole trail, newest first. */
export async function* recordsFromEnd(path: string, keep: number): AsyncGenerator<AuditRecord> {
  for (const file of trailFiles(path, keep)) {
    for await (const line of linesFromEnd(file)) {
      const rec = parseRecord(line);
      if (rec) yield rec;
    }
  }
}
