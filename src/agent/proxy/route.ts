import { isBranchName } from '../../core/names.ts';

/**
 * The connection scheme: the startup message's `database` names the branch.
 *
 *   `pr-7`      → branch pr-7, its own database (the one its connection info names)
 *   `pr-7.app`  → branch pr-7, database `app` inside it
 *
 * Why the database name: it is the one parameter every client (psql, libpq URIs, PGDATABASE, JDBC,
 * node-postgres) sets from the URI path without options or escaping, and branch names cannot hold a
 * dot, so `<branch>.<database>` splits unambiguously at the first dot. The user name stays the
 * branch's own role (authentication runs end to end), and TLS SNI would need wildcard DNS and a
 * wildcard certificate. The proxy rewrites `database` to the real name before forwarding: the
 * branch authenticates afterwards, so nothing about the login changes.
 */
export interface ProxyTarget {
  branch: string;
  /** The database inside the branch; null = the branch's own. */
  database: string | null;
}

export function targetOf(database: string): ProxyTarget | null {
  const dot = database.indexOf('.');
  const branch = dot < 0 ? database : database.slice(0, dot);
  const inner = dot < 0 ? null : database.slice(dot + 1);
  if (!isBranchName(branch) || inner === '') return null;
  return { branch, database: inner };
}

/** What a client puts in the URI path to reach `branch` (its own database). */
export function proxyDatabase(branch: string): string {
  return branch;
}

export const SCHEME_HINT =
  'Through the vela-branch proxy the database name is the branch: postgresql://USER@HOST:PORT/BRANCH, or BRANCH.DATABASE for another database in it.';
