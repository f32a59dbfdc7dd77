import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Runner } from './runner.ts';
import { SHARED_PG_ROOT } from './postgres/binaries.ts';
import { isReachable, resolvePostgresUser } from './postgres/os-user.ts';

/** The agent's data dir when none is given: `.vela` in the directory it starts in. */
export const DEFAULT_DATA_DIR = '.vela';

/**
 * Where a root agent keeps the data of a default data dir its postgres user cannot reach:
 * one directory per absolute path, so two clones never share (or fight over) one.
 */
export function sharedDataDirFor(defaultDir: string): string {
  const abs = resolve(defaultDir);
  const label =
    basename(dirname(abs))
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'root';
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return join(SHARED_PG_ROOT, `${label}-${hash}`);
}

export interface DataDirChoice {
  dir: string;
  /** One line saying why the data is not in `./.vela`; null when it is. */
  note: string | null;
}

const hasState = (dir: string) => existsSync(join(dir, 'state'));

/**
 * The data dir of an agent started without --data-dir: `./.vela`, unless a root agent's postgres
 * user cannot reach it (a checkout under a 0700 home such as /root); then sharedDataDirFor() of it.
 * Whichever of the two already holds state keeps being used, so `main` and its branches never move.
 */
export async function chooseDefaultDataDir(opts: {
  /** The default data dir, resolved: `./.vela` of the agent's working directory. */
  dataDir: string;
  pgUser: string;
  runner: Runner;
  log: (msg: string) => void;
}): Promise<DataDirChoice> {
  const local = resolve(opts.dataDir);
  const shared = sharedDataDirFor(local);
  if (hasState(local)) return { dir: local, note: null };
  if (hasState(shared))
    return { dir: shared, note: `data dir ${shared} (where this directory's agent keeps its data since its first start)` };
  const user = await resolvePostgresUser(opts.runner, opts.pgUser, opts.log);
  // The agent creates ./.vela itself (mode 0755): what decides is whether its parent is reachable.
  if (await isReachable(opts.runner, user, existsSync(local) ? local : dirname(local))) return { dir: local, note: null };
  return {
    dir: shared,
    note: `data dir ${shared}: ${local} is not reachable by the postgres OS user "${user?.name ?? opts.pgUser}" (a parent directory is private, e.g. a 0700 home)`,
  };
}
