import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';
import type { BuildProgress } from './progress.ts';
import type { OsUser } from '../postgres/os-user.ts';
import { toolRunOptions, toolWorkDir } from './tool-env.ts';

export interface LogicalImport {
  runner: Runner;
  pgDump: string;
  pgRestore: string;
  sourceUrl: string;
  sourceBytes: number;
  /** Where the target postgres listens (unix socket dir + port), superuser name, target database. */
  target: { socketDir: string; port: number; user: string; database: string };
  workDir: string;
  /** The postgres OS user the tools run as (null when the agent is not root). */
  user?: OsUser | null;
  jobs: number;
  progress: BuildProgress;
}

/** Password out of the URL and into the environment, so it never shows in `ps`. */
export function splitPassword(url: string): { url: string; password: string | undefined } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  return { url: u.toString(), password };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) total += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size;
  return total;
}

/** pg_dump in directory format with parallel jobs, then pg_restore with parallel jobs into the target. */
export async function importLogical(o: LogicalImport): Promise<void> {
  const { url, password } = splitPassword(o.sourceUrl);
  const user = o.user ?? null;
  const dumpDir = join(o.workDir, 'dump');
  await rm(dumpDir, { recursive: true, force: true });
  await toolWorkDir(o.workDir, user);
  o.progress.phase = 'dumping';
  o.progress.bytesTotal = o.sourceBytes;
  const poll = setInterval(() => {
    void dirBytes(dumpDir).then((b) => (o.progress.bytesDone = b));
  }, 300);
  try {
    await o.runner(
      [o.pgDump, '--format=directory', `--jobs=${o.jobs}`, '--no-sync', `--file=${dumpDir}`, `--dbname=${url}`],
      toolRunOptions(user, password),
    );
  } finally {
    clearInterval(poll);
  }
  o.progress.bytesDone = await dirBytes(dumpDir);
  o.progress.bytesTotal = o.progress.bytesDone;
  const toc = await o.runner([o.pgRestore, '--list', dumpDir], toolRunOptions(user));
  o.progress.tablesTotal = toc.stdout.split('\n').filter((l) => / TABLE DATA /.test(l)).length;
  o.progress.phase = 'restoring';
  const target = toolRunOptions(user, undefined, { PGHOST: o.target.socketDir, PGPORT: String(o.target.port), PGUSER: o.target.user });
  await o.runner(
    [
      o.pgRestore,
      '--verbose',
      '--exit-on-error',
      '--no-owner',
      '--no-privileges',
      `--jobs=${o.jobs}`,
      `--dbname=${o.target.database}`,
      dumpDir,
    ],
    {
      ...target,
      onOutput: (chunk) => {
        o.progress.tablesDone += (chunk.match(/processing data for table/g) ?? []).length;
      },
    },
  );
  o.progress.tablesDone = o.progress.tablesTotal;
  await rm(dumpDir, { recursive: true, force: true });
}
