import { VelaError, conflict, forbidden, notFound } from '../../core/errors.ts';
import type { Principal, Scope } from './principal.ts';

/**
 * The one question every route asks: may this principal do this to this branch?
 * The README's "Access" table is the contract; test/agent/auth/access.test.ts checks it cell by cell.
 */
export type Action =
  | 'list' // GET /v1/branches, GET /v1/branches/:name without credentials, progress, audit, metrics
  | 'credentials' // the connection (password, uri) in any answer about a branch
  | 'create'
  | 'patch'
  | 'protect' // PATCH with `protected`
  | 'delete'
  | 'reset'
  | 'stop'
  | 'start'
  | 'rebase'
  | 'diff'
  | 'init' // POST /v1/init
  | 'refresh' // POST /v1/branches/main/refresh
  | 'doctor'; // GET /v1/doctor

/** What access needs to know about a branch; the registry (or anything with records) provides it. */
export interface BranchFacts {
  name: string;
  parent: string | null;
  protected: boolean;
}

export type Lookup = (name: string) => BranchFacts | undefined;

interface Rule {
  scope: Scope;
  /** Name prefix and ancestry of the target branch are checked. */
  reach: boolean;
  /** A protected target is refused to non-admins. */
  guarded: boolean;
}

const RULES: Record<Action, Rule> = {
  list: { scope: 'read', reach: false, guarded: false },
  credentials: { scope: 'write', reach: true, guarded: true },
  create: { scope: 'write', reach: true, guarded: false },
  patch: { scope: 'write', reach: true, guarded: true },
  protect: { scope: 'admin', reach: true, guarded: true },
  delete: { scope: 'write', reach: true, guarded: true },
  reset: { scope: 'write', reach: true, guarded: true },
  stop: { scope: 'write', reach: true, guarded: true },
  start: { scope: 'write', reach: true, guarded: true },
  rebase: { scope: 'write', reach: true, guarded: true },
  diff: { scope: 'read', reach: true, guarded: false },
  init: { scope: 'admin', reach: false, guarded: false },
  refresh: { scope: 'admin', reach: false, guarded: false },
  doctor: { scope: 'admin', reach: false, guarded: false },
};

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

/** Target of a check: an existing branch by name, or (create) the new name and its parent. */
export type Target = string | { name: string; parent: string } | null;

export type Decision = { ok: true } | { ok: false; error: VelaError };

const MAX_DEPTH = 1000;

/** Names of the ancestors of `name`, nearest first (stops at a missing record or a loop). */
export function ancestors(name: string, lookup: Lookup): string[] {
  const out: string[] = [];
  const seen = new Set([name]);
  let cur = lookup(name)?.parent ?? null;
  while (cur !== null && !seen.has(cur) && out.length < MAX_DEPTH) {
    out.push(cur);
    seen.add(cur);
    cur = lookup(cur)?.parent ?? null;
  }
  return out;
}

function prefixProblem(p: Principal, name: string): string | null {
  if (p.prefixes === null || p.prefixes.some((x) => name.startsWith(x))) return null;
  return `this token may not touch branch ${name} (it is limited to names starting with ${p.prefixes.join(', ')})`;
}

/** A principal limited to parents reaches only branches that descend from one of them. */
function ancestryProblem(p: Principal, name: string, lineage: string[]): string | null {
  if (p.parents === null || lineage.some((a) => p.parents!.includes(a))) return null;
  const from = lineage.length ? `descends from ${lineage.join(' ← ')}` : 'has no parent';
  return `this token may not touch branch ${name}: it ${from}, and the token is limited to branches of ${p.parents.join(', ')}`;
}

/** `force`: the request asks to delete or reset a protected branch (admin only). */
export interface AccessOptions {
  force?: boolean;
}

export function decide(p: Principal, action: Action, target: Target, lookup: Lookup, opts: AccessOptions = {}): Decision {
  const rule = RULES[action];
  const no = (message: string): Decision => ({ ok: false, error: forbidden(message) });
  if ((RANK[p.scope] ?? 0) < RANK[rule.scope]) {
    return no(`${action} needs a${rule.scope === 'admin' ? 'n' : ''} ${rule.scope} token; this one is ${p.scope}`);
  }
  if (!rule.reach || target === null) return { ok: true };
  const name = typeof target === 'string' ? target : target.name;
  const prefix = prefixProblem(p, name);
  if (prefix) return no(prefix);
  if (typeof target !== 'string') {
    // A new branch's parent must be one of the allowed parents itself.
    if (p.parents !== null && !p.parents.includes(target.parent)) {
      return no(`this token may not branch from ${target.parent} (allowed: ${p.parents.join(', ')})`);
    }
    return { ok: true };
  }
  const rec = lookup(target);
  if (!rec) return { ok: false, error: notFound(`branch ${target} does not exist`) };
  const ancestry = ancestryProblem(p, name, ancestors(target, lookup));
  if (ancestry) return no(ancestry);
  if (rule.guarded && rec.protected && p.scope !== 'admin') {
    // Delete and reset of a protected branch answer as they always have: force first, then admin.
    if ((action === 'delete' || action === 'reset') && !opts.force) {
      return { ok: false, error: conflict(`branch ${name} is protected: ${action} needs force (and an admin token)`) };
    }
    return no(`branch ${name} is protected: ${action} needs an admin token`);
  }
  return { ok: true };
}

/** Throws the 403 (404 for a branch that does not exist, 409 for a protected one without force) that says why. */
export function authorize(p: Principal, action: Action, target: Target, lookup: Lookup, opts: AccessOptions = {}): void {
  const d = decide(p, action, target, lookup, opts);
  if (!d.ok) throw d.error;
}

export function allowed(p: Principal, action: Action, target: Target, lookup: Lookup): boolean {
  return decide(p, action, target, lookup).ok;
}

/** Config lines worth a warning at start: write access with no name prefixes reaches any name. */
export function unboundedWriters(cfg: {
  tokens: readonly { name: string; scope: Scope; prefixes?: string[] }[];
  oidc: { rules: readonly { scope: Scope; prefixes?: string[]; repository?: string; repository_owner?: string }[] } | null;
}): string[] {
  const out: string[] = [];
  for (const t of cfg.tokens) {
    if (t.scope === 'write' && !t.prefixes?.length) out.push(`token "${t.name}" may write branches of any name (no prefixes)`);
  }
  cfg.oidc?.rules.forEach((r, i) => {
    if (r.scope === 'write' && !r.prefixes?.length) {
      const who = r.repository ?? `owner ${r.repository_owner ?? '?'}`;
      out.push(`oidc rule ${i} (${who}) may write branches of any name (no prefixes)`);
    }
  });
  return out;
}
