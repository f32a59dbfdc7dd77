import { beforeAll, describe, expect, it } from 'vitest';
import { ancestors, decide, unboundedWriters } from '../../../src/agent/auth/access.ts';
import type { Action, BranchFacts, Target } from '../../../src/agent/auth/access.ts';
import type { Principal } from '../../../src/agent/auth/principal.ts';
import { PRINCIPALS, readAccessTable } from '../../helpers/access-table.ts';
import type { AccessRow, PrincipalName } from '../../helpers/access-table.ts';
import { accessPrincipals } from '../../helpers/access-principals.ts';

/** The branches the README's table is written for. */
const BRANCHES: BranchFacts[] = [
  { name: 'main', parent: null, protected: true },
  { name: 'main-masked', parent: 'main', protected: true },
  { name: 'ci-1', parent: 'main-masked', protected: false },
  { name: 'pr-1', parent: 'main-masked', protected: false },
  { name: 'ci-2', parent: 'main', protected: false },
];
const lookup = (name: string) => BRANCHES.find((b) => b.name === name);

/** Which question a request of the table asks (the routes ask the same one). */
function question(row: AccessRow): { action: Action; target: Target } {
  if (row.method === 'POST' && row.path === '/v1/branches') return { action: 'create', target: { name: row.branch!, parent: row.parent! } };
  if (row.path === '/v1/init') return { action: 'init', target: null };
  if (row.path.endsWith('/refresh')) return { action: 'refresh', target: null };
  if (row.path === '/v1/doctor') return { action: 'doctor', target: null };
  if (row.connection) return { action: 'credentials', target: row.branch };
  const sub = /^\/v1\/branches\/[a-z0-9-]+\/(reset|stop|start|rebase|diff)$/.exec(row.path);
  if (sub) return { action: sub[1] as Action, target: row.branch };
  if (row.method === 'PATCH') return { action: row.protect ? 'protect' : 'patch', target: row.branch };
  if (row.method === 'DELETE') return { action: 'delete', target: row.branch };
  if (row.method === 'GET') return { action: 'list', target: null };
  throw new Error(`no question for ${row.text}`);
}

const rows = readAccessTable();
let principals: Record<PrincipalName, Principal>;

beforeAll(async () => {
  const { auth, bearer } = await accessPrincipals();
  principals = {} as Record<PrincipalName, Principal>;
  for (const p of PRINCIPALS) principals[p] = await auth.authenticate(`Bearer ${bearer[p]}`);
});

describe('access: every cell of the README table', () => {
  it('the table has every route and principal', () => {
    const actions = new Set(rows.map((r) => question(r).action));
    for (const a of [
      'list',
      'credentials',
      'create',
      'patch',
      'protect',
      'delete',
      'reset',
      'stop',
      'start',
      'rebase',
      'diff',
      'init',
      'refresh',
    ]) {
      expect(actions, a).toContain(a);
    }
    expect(rows.length).toBeGreaterThan(30);
  });

  for (const row of rows) {
    for (const p of PRINCIPALS) {
      it(`${row.text} as ${p}: ${row.allowed[p] ? 'allowed' : 'refused'}`, () => {
        const { action, target } = question(row);
        const d = decide(principals[p], action, target, lookup);
        expect(d.ok).toBe(row.allowed[p]);
        if (!d.ok) expect(d.error.status).toBe(403);
      });
    }
  }
});

describe('access: details', () => {
  it('names the reason: prefix, ancestry, protection, scope', () => {
    const msg = (p: PrincipalName, a: Action, t: Target) => {
      const d = decide(principals[p], a, t, lookup);
      return d.ok ? '' : d.error.message;
    };
    expect(msg('ci', 'reset', 'pr-1')).toMatch(/limited to names starting with ci-/);
    expect(msg('masked', 'reset', 'ci-2')).toMatch(/descends from main.*limited to branches of main-masked/);
    expect(msg('masked', 'stop', 'main-masked')).toMatch(/limited to branches of main-masked/);
    expect(msg('ci', 'create', { name: 'ci-9', parent: 'ci-1' })).toMatch(/may not branch from ci-1 \(allowed: main-masked\)/);
    expect(msg('reader', 'stop', 'ci-1')).toMatch(/needs a write token; this one is read/);
    expect(msg('admin', 'stop', 'main')).toBe('');
  });

  it('protected: 403 for non-admins; delete and reset without force are 409 for everyone, as before', () => {
    const writer: Principal = { actor: 'token:w', kind: 'token', scope: 'write', prefixes: null, parents: null };
    const status = (p: Principal, a: Action, force = false) => {
      const d = decide(p, a, 'main', lookup, { force });
      return d.ok ? 'ok' : d.error.status;
    };
    for (const a of ['stop', 'start', 'patch', 'rebase'] as const) expect(status(writer, a)).toBe(403);
    expect(status(writer, 'delete')).toBe(409);
    expect(status(writer, 'reset', true)).toBe(403);
    expect(status(principals.admin, 'delete', true)).toBe('ok');
    expect(status(writer, 'credentials')).toBe(403);
    expect(status(principals.admin, 'credentials')).toBe('ok');
  });

  it('a branch that does not exist is a 404 once the prefix allows it', () => {
    const d = decide(principals.masked, 'reset', 'ci-404', lookup);
    expect(d.ok || d.error.status).toBe(404);
    const e = decide(principals.ci, 'reset', 'zz-404', lookup);
    expect(e.ok || e.error.status).toBe(403);
  });

  it('ancestry walks up to the root and survives a loop in the records', () => {
    expect(ancestors('ci-1', lookup)).toEqual(['main-masked', 'main']);
    const loop = (n: string): BranchFacts => ({ name: n, parent: n === 'a' ? 'b' : 'a', protected: false });
    expect(ancestors('a', loop)).toEqual(['b']);
  });
});

describe('access: config warnings', () => {
  it('names write tokens and OIDC rules without prefixes, nothing else', () => {
    const w = unboundedWriters({
      tokens: [
        { name: 'ci', scope: 'write', prefixes: ['ci-'] },
        { name: 'masked', scope: 'write', parents: ['main-masked'] } as never,
        { name: 'reader', scope: 'read' },
        { name: 'root', scope: 'admin' },
      ],
      oidc: {
        rules: [
          { repository: 'octo/app', scope: 'write', prefixes: ['pr-'] },
          { repository_owner: 'octo', scope: 'write' },
          { repository: 'octo/ro', scope: 'read' },
        ],
      },
    });
    expect(w).toEqual([
      'token "masked" may write branches of any name (no prefixes)',
      'oidc rule 1 (owner octo) may write branches of any name (no prefixes)',
    ]);
  });
});
