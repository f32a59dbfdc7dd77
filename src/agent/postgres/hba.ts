import { userInfo } from 'node:os';

/** The pg_ident.conf map that lets the agent's OS user, and only it, log in as the superuser. */
export const AGENT_MAP = 'vela_agent';

export interface HbaPolicy {
  /** The role the agent logs in as over the unix socket (the cluster's bootstrap superuser). */
  superuser: string;
  /** Every superuser role of the cluster: refused over TCP whatever password is offered. */
  superusers: string[];
  /** The OS user the agent runs as: peer authentication maps it to `superuser`. */
  agentOsUser: string;
  /**
   * Only while `main` is built, before it has a branch or a TCP login: the OS user pg_restore runs
   * as (the postgres OS user, which owns the data files anyway) may be the superuser too.
   */
  restoreOsUser?: string;
  /** False until the branch's fresh passwords are in place: then every TCP login is refused. */
  open: boolean;
}

/** The OS user name peer authentication will see for the agent's own connections. */
export function agentOsUser(): string {
  return userInfo().username;
}

/** A role or OS user name as one quoted pg_hba/pg_ident token (quoting keeps `+`, `@`, `all` literal). */
function token(name: string): string {
  if (!name || /["\r\n\0]/.test(name)) throw new Error(`role name ${JSON.stringify(name)} cannot be written to pg_hba.conf`);
  return `"${name}"`;
}

/**
 * pg_hba.conf of a branch. No `trust` anywhere: the socket takes only the agent's superuser, by
 * peer identity through the map; TCP takes passwords (SCRAM) and never a superuser.
 */
export function hbaText(p: HbaPolicy): string {
  const su = token(p.superuser);
  const supers = [...new Set([p.superuser, ...p.superusers])].map(token).join(',');
  const lines = [
    '# written by vela-branch on every create, start and reset; edits are lost',
    `local all ${su} peer map=${AGENT_MAP}`,
    `local replication ${su} peer map=${AGENT_MAP}`,
    'local all all reject',
    'local replication all reject',
    `host all ${supers} 0.0.0.0/0 reject`,
    `host all ${supers} ::/0 reject`,
  ];
  const tcp = p.open ? 'scram-sha-256' : 'reject';
  lines.push(`host all all 0.0.0.0/0 ${tcp}`, `host all all ::/0 ${tcp}`);
  return lines.join('\n') + '\n';
}

/** pg_ident.conf of a branch: the agent's OS user, and nobody else, may be the superuser. */
export function identText(p: Pick<HbaPolicy, 'superuser' | 'agentOsUser' | 'restoreOsUser'>): string {
  const users = [...new Set([p.agentOsUser, ...(p.restoreOsUser ? [p.restoreOsUser] : [])])];
  return ['# written by vela-branch', ...users.map((u) => `${AGENT_MAP} ${token(u)} ${token(p.superuser)}`)].join('\n') + '\n';
}
