/** Who is calling and what they may touch; produced by the authenticator, checked by the routes. */
export type Scope = 'admin' | 'write' | 'read';

export interface Principal {
  /** Shown in the audit trail, e.g. "token:ci" or "oidc:octo/repo@refs/pull/1/merge (pull_request)". */
  actor: string;
  kind: 'token' | 'oidc';
  /** admin ⊃ write ⊃ read */
  scope: Scope;
  /** Allowed branch-name prefixes; null = any name. */
  prefixes: string[] | null;
  /** Allowed parents when creating; null = any parent. */
  parents: string[] | null;
  claims?: Record<string, unknown>;
}

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

function atLeast(p: Principal, scope: Scope): boolean {
  return (RANK[p.scope] ?? 0) >= RANK[scope];
}

export function canRead(p: Principal): boolean {
  return atLeast(p, 'read');
}

export function isAdmin(p: Principal): boolean {
  return p.scope === 'admin';
}

/** Write scope and, when the principal is limited to prefixes, a name that starts with one of them. */
export function canWriteBranch(p: Principal, name: string): boolean {
  if (!atLeast(p, 'write')) return false;
  if (p.prefixes === null) return true;
  return p.prefixes.some((prefix) => name.startsWith(prefix));
}

export function canCreateFrom(p: Principal, parent: string): boolean {
  if (p.parents === null) return true;
  return p.parents.includes(parent);
}
