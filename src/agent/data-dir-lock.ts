import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive } from './postgres/processes.ts';

/**
 * One agent per data dir. DIR/agent.lock names the holder (pid and the process's start time, so a
 * pid reused after a reboot is not mistaken for a live holder). It is made with link(2), which fails
 * when the file exists; a lock whose holder is gone (kill -9) is taken over.
 */
export const LOCK_FILE = 'agent.lock';

export class DataDirLocked extends Error {
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(`the data dir ${dataDir} is in use by another vela agent (pid ${pid}); stop it first, or use another --data-dir`);
    this.name = 'DataDirLocked';
    this.pid = pid;
  }
}

export interface DataDirLock {
  path: string;
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  start: string;
}

/** The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat). */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): Holder | null {
  const [pid, start] = text.trim().split(/\s+/);
  const n = Number(pid);
  return Number.isSafeInteger(n) && n > 0 ? { pid: n, start: start ?? '' } : null;
}

function holds(h: Holder | null): boolean {
  return h !== null && alive(h.pid) && (h.start === '' || startTime(h.pid) === h.start);
}

async function readHolder(path: string): Promise<Holder | null | 'gone'> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const path = join(dataDir, LOCK_FILE);
  const me = `${process.pid} ${startTime(process.pid) ?? ''}\n`;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, me, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, path);
        return { path, release: () => release(path, me) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(path);
      if (holder === 'gone') continue;
      if (holds(holder)) throw new DataDirLocked(dataDir, holder!.pid);
      await takeOverStale(path);
    }
    throw new Error(`cannot take the lock ${path}: other agents keep starting on this data dir`);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Moves a dead holder's lock aside. Renaming is atomic, so of two agents taking over at once only one
 * moves the stale file; should the one moved be a live agent's fresh lock instead, it is put back.
 */
async function takeOverStale(path: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved !== 'gone' && holds(moved)) await link(aside, path).catch(() => {});
  await rm(aside, { force: true });
}

async function release(path: string, me: string): Promise<void> {
  // Only our own lock: never remove one another agent took over after us.
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === me) await rm(path, { force: true });
}
