import pg from 'pg';
import type { PostgresControl } from '../postgres/instance.ts';
import { generatePassword, scramVerifier } from '../postgres/scram.ts';
import type { BranchRecord } from '../branches/registry.ts';

/** Where the agent's superuser SQL for a branch goes (its unix socket, its bootstrap superuser). */
export function adminTarget(rec: Pick<BranchRecord, 'port' | 'superuser'>): { port: number; superuser?: string } {
  return { port: rec.port, superuser: rec.superuser };
}

/**
 * Fresh secrets for every login role: the parent's passwords must not open the child. `openUp`
 * then lets TCP logins in (pg_hba said `reject` until now) and the config is reloaded.
 */
export async function rotateCredentials(
  ctl: PostgresControl,
  target: { port: number; superuser?: string },
  rec: Pick<BranchRecord, 'user' | 'password'>,
  openUp: () => Promise<void>,
): Promise<void> {
  await ctl.withClient(target, async (c) => {
    const roles = await c.query<{ rolname: string }>('SELECT rolname FROM pg_authid WHERE rolcanlogin');
    const names = new Set(roles.rows.map((r) => r.rolname));
    names.add(rec.user);
    for (const role of names) {
      const secret = role === rec.user ? rec.password : generatePassword();
      await c.query(`ALTER ROLE ${c.escapeIdentifier(role)} WITH LOGIN PASSWORD ${c.escapeLiteral(scramVerifier(secret))}`);
    }
    await openUp();
    await c.query('SELECT pg_reload_conf()');
  });
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
    const c = new pg.Client({ host, port: rec.port, user: rec.user, password: rec.password, database: rec.database });
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

function probeHost(listen: string): string {
  const first = listen.split(',')[0].trim();
  if (first === '*' || first === '0.0.0.0' || first === '' || first === 'localhost') return '127.0.0.1';
  if (first === '::') return '::1';
  return first;
}
