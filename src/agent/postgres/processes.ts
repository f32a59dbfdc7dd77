import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  argv: string[];
}

/** Processes whose command line mentions a path under `root` (postgres -D …, pg_ctl, its sh). */
export async function processesUnder(root: string): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!raw) continue;
    const argv = raw.split('\0').filter(Boolean);
    if (argv.some((a) => a.startsWith(prefix) || a.includes(` ${prefix}`))) out.push({ pid, argv });
  }
  return out;
}

/** The volume name a process works on, if its command line names `<root>/<name>`. */
export function volumeOf(proc: ProcInfo, root: string): string | null {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (const a of proc.argv) {
    const i = a.indexOf(prefix);
    if (i >= 0) return a.slice(i + prefix.length).split(/[/\s'"]/)[0] || null;
  }
  return null;
}

export function kill(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * A process that still runs. A zombie (exited, not yet reaped by its parent: postgres is reparented
 * to init, which may reap it late) answers kill(0) but is gone for every purpose here.
 */
export function alive(pid: number): boolean {
  if (!kill(pid, 0)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
