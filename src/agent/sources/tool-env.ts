import { chown, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OsUser } from '../postgres/os-user.ts';
import type { RunOptions } from '../runner.ts';

/**
 * How pg_dump, pg_restore and pg_basebackup run: as the unprivileged postgres OS user (never root)
 * and with a minimal environment, so neither root's HOME and ~/.pgpass nor any PG* variable of the
 * agent's environment reaches them. The password, if the URL had one, goes in PGPASSWORD (not argv).
 */
export function toolRunOptions(user: OsUser | null, password?: string, extra: Record<string, string> = {}): RunOptions {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', PGCONNECT_TIMEOUT: '10', LC_ALL: 'C.UTF-8', ...extra };
  if (password) env.PGPASSWORD = password;
  return { env, ...(user ? { uid: user.uid, gid: user.gid } : {}) };
}

/** A work directory the tools (running as `user`) may write. */
export async function toolWorkDir(dir: string, user: OsUser | null): Promise<void> {
  // Parents searchable (0755, nothing secret in them); the dir itself is the user's alone.
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (user) await chown(dir, user.uid, user.gid);
}
