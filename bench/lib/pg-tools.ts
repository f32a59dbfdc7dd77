import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { processRunner } from '../../src/agent/runner.ts';

export interface ClientTool {
  path: string;
  major: number;
}

/** Directories that may hold PostgreSQL client tools: PATH, then Debian's versioned installs. */
function candidateDirs(): string[] {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const debian = '/usr/lib/postgresql';
  try {
    for (const v of readdirSync(debian)) dirs.push(join(debian, v, 'bin'));
  } catch {
    // no Debian PostgreSQL packages
  }
  return dirs;
}

/** The newest `name` (psql, pg_dump, pg_restore) found, with its major version; null when none runs. */
export async function findNewestTool(name: string): Promise<ClientTool | null> {
  let best: ClientTool | null = null;
  for (const dir of new Set(candidateDirs())) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue;
    }
    const r = await processRunner([path, '--version'], { allowFailure: true }).catch(() => null);
    const m = r && r.code === 0 ? (/\)\s*(\d+)/.exec(r.stdout) ?? /(\d+)\.\d+/.exec(r.stdout)) : null;
    if (!m) continue;
    const major = Number(m[1]);
    if (!best || major > best.major) best = { path, major };
  }
  return best;
}
