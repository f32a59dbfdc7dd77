import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface BranchMemory {
  processes: number;
  /** Proportional set size: shared pages (shared_buffers, the binary) split among the processes sharing them. */
  pssBytes: number;
  /** Resident set size summed over the processes (counts shared pages once per process). */
  rssBytes: number;
}

/** The postmaster's pid from postmaster.pid, null when the branch does not run. */
async function postmasterPid(dataDir: string): Promise<number | null> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = text ? Number(text.split('\n')[0]) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

async function parentOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat) return null;
  // Fields after the command (which may contain spaces) in parentheses: state, ppid, …
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[1]);
}

async function rollup(pid: number): Promise<{ pss: number; rss: number } | null> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null);
  if (!text) return null;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { pss: kb('Pss'), rss: kb('Rss') };
}

/** PSS and RSS of a running branch: its postmaster and every process it forked. */
export async function branchMemory(dataDir: string): Promise<BranchMemory | null> {
  const root = await postmasterPid(dataDir);
  if (root === null) return null;
  const pids = [root];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid !== root && (await parentOf(pid)) === root) pids.push(pid);
  }
  const out: BranchMemory = { processes: 0, pssBytes: 0, rssBytes: 0 };
  for (const pid of pids) {
    const m = await rollup(pid);
    if (!m) continue;
    out.processes++;
    out.pssBytes += m.pss;
    out.rssBytes += m.rss;
  }
  return out.processes ? out : null;
}
