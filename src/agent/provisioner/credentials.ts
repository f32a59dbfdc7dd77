import pg from 'pg';
import type { PostgresControl } from '../postgres/instance.ts';
import { AGENT_APPLICATION_NAME, SUPERUSER } from '../postgres/instance.ts';
import { setUpOwner, takeOwnership, userDatabases } from '../postgres/roles.ts';
import { generatePassword, scramVerifier } from '../postgres/scram.ts';
import type { BranchRecord } from '../branches/registry.ts';

/** Where the agent's superuser SQL for a branch goes (its unix socket, its bootstrap superuser). */
export function adminTarget(rec: Pick<BranchRecord, 'port' | 'superuser'>): { port: number; superuser?: string } {
  return { port: rec.port, superuser: rec.superuser };
}

/** Opens TCP (pg_hba) once the passwords are fresh; gets every superuser so TCP can refuse them all. */
export type OpenUp = (superusers: string[]) => Promise<void>;

/**
 * Makes `rec.user` the branch's owner role (attributes, memberships, databases; with
 * `takeOwnership` also every object other roles own, as for a replica's or an import's objects),
 * then fresh secrets for every login role: the parent's passwords must not open the child, and
 * only `rec.user`'s leaves the agent. `openUp` then lets TCP logins in and the config is reloaded.
 */
export async function rotateCredentials(
  ctl: PostgresControl,
  target: { port: number; superuser?: string },
  rec: Pick<BranchRecord, 'user' | 'password'>,
  openUp: OpenUp,
  opts: { takeOwnership?: boolean } = {},
): Promise<void> {
  await ctl.withClient(target, async (c) => {
    // One transaction, so one WAL flush instead of one per statement (each an fsync, slow on a pool
    // busy with a parent's writes) and all or nothing. A failure ends the session: rolled back.
    await c.query('BEGIN');
    await setUpOwner(c, { role: rec.user, major: ctl.bins.major });
    if (opts.takeOwnership) {
      await c.query('COMMIT'); // the other databases' sessions must see the owner role
      for (const db of await userDatabases(c)) await ctl.withClient(target, (d) => takeOwnership(d, rec.user), db);
      await c.query('BEGIN');
    }
    const roles = await c.query<{ rolname: string }>('SELECT rolname FROM pg_authid WHERE rolcanlogin');
    const names = new Set(roles.rows.map((r) => r.rolname));
    names.add(rec.user);
    for (const role of names) {
      const secret = role === rec.user ? rec.password : generatePassword();
      await c.query(`ALTER ROLE ${c.escapeIdentifier(role)} WITH LOGIN PASSWORD ${c.escapeLiteral(scramVerifier(secret))}`);
    }
    await c.query('COMMIT');
    await openUp(await superusers(c));
    await c.query('SELECT pg_reload_conf()');
  });
}

/**
 * After a start whose pg_hba.conf named only the bootstrap superuser: rewrites it to refuse every
 * superuser of the cluster over TCP (a replica's source may have several) and reloads.
 */
export async function refuseAllSuperusers(
  ctl: PostgresControl,
  target: { port: number; superuser?: string },
  openUp: OpenUp,
): Promise<void> {
  await ctl.withClient(target, async (c) => {
    const all = await superusers(c);
    if (all.length === 1 && all[0] === (target.superuser ?? SUPERUSER)) return;
    await openUp(all);
    await c.query('SELECT pg_reload_conf()');
  });
}

async function superusers(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ rolname: string }>('SELECT rolname FROM pg_authid WHERE rolsuper ORDER BY 1');
  return r.rows.map((x) => x.rolname);
}

/** Superuser SQL as the owner role, so what it creates is the owner's (seed scripts). */
export async function runAsOwner(ctl: PostgresControl, port: number, role: string, sql: string, database: string): Promise<void> {
  await ctl.withClient(
    port,
    async (c) => {
      await c.query(`SET SESSION AUTHORIZATION ${c.escapeIdentifier(role)}`);
      await c.query(sql);
    },
    database,
  );
}

/** Ready means a client can log in over TCP with the branch's own password. */
export async function waitForLogin(
  rec: Pick<BranchRecord, 'name' | 'port' | 'user' | 'password' | 'database'>,
  pgListen: string,
  timeoutMs = 5000,
): Promise<void> {
  const host = probeHost(pgListen);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new pg.Client({
      host,
      port: rec.port,
      user: rec.user,
      password: rec.password,
      database: rec.database,
      application_name: AGENT_APPLICATION_NAME,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => {});
      if (Date.now() > deadline)
        throw new Error(`branch ${rec.name} started but refuses logins: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** The address the agent reaches branch postgres on, given `pgListen` (a wildcard means loopback). */
export function probeHost(listen: string): string {
  const first = listen.split(',')[0].trim();
  if (first === '*' || first === '0.0.0.0' || first === '' || first === 'localhost') return '127.0.0.1';
  if (first === '::') return '::1';
  return first;
}
