import { readFileSync } from 'node:fs';
import type { Runner } from '../runner.ts';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

function lookup(name: string): OsUser | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (!line) return null;
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * postgres refuses to run as root. When the agent is root it runs every postgres as an
 * unprivileged system user, created on first use; otherwise as the agent's own user.
 */
export async function resolvePostgresUser(runner: Runner, wanted: string, log: (msg: string) => void): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(wanted)) throw new Error(`pgUser "${wanted}" is not a valid user name`);
  let user = lookup(wanted);
  if (!user) {
    await runner(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', wanted]);
    log(`created system user "${wanted}" to run postgres (postgres refuses to run as root)`);
    user = lookup(wanted);
    if (!user) throw new Error(`useradd ${wanted} succeeded but the user is not in /etc/passwd`);
  }
  if (user.uid === 0) throw new Error(`pgUser "${wanted}" is root: postgres needs an unprivileged user`);
  return user;
}

/** Proves that `user` can reach a path (every parent directory searchable); a 0700 home is the usual trap. */
export async function isReachable(runner: Runner, user: OsUser | null, path: string): Promise<boolean> {
  if (!user) return true;
  const r = await runner(['test', '-x', path], { uid: user.uid, gid: user.gid, allowFailure: true });
  return r.code === 0;
}

export async function assertReachable(runner: Runner, user: OsUser | null, path: string, what: string): Promise<void> {
  if (!(await isReachable(runner, user, path))) {
    if (!user) return;
    throw new Error(
      `${what} ${path} is not reachable by the postgres OS user "${user.name}": every parent directory must be searchable (a checkout under a 0700 home such as /root is not). Move it (e.g. to /opt or /srv) or chmod o+x the parent directories`,
    );
  }
}
