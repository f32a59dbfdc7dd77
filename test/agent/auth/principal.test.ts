import { describe, expect, it } from 'vitest';
import { canCreateFrom, canRead, canWriteBranch, isAdmin } from '../../../src/agent/auth/principal.ts';
import type { Principal, Scope } from '../../../src/agent/auth/principal.ts';

function principal(scope: Scope, prefixes: string[] | null = null, parents: string[] | null = null): Principal {
  return { actor: `token:${scope}`, kind: 'token', scope, prefixes, parents };
}

describe('principal checks', () => {
  it('orders scopes admin > write > read', () => {
    expect([canRead(principal('read')), canRead(principal('write')), canRead(principal('admin'))]).toEqual([true, true, true]);
    expect(canWriteBranch(principal('read'), 'pr-1')).toBe(false);
    expect(canWriteBranch(principal('write'), 'pr-1')).toBe(true);
    expect(canWriteBranch(principal('admin'), 'pr-1')).toBe(true);
    expect(isAdmin(principal('write'))).toBe(false);
    expect(isAdmin(principal('admin'))).toBe(true);
  });

  it('limits writes to the allowed prefixes', () => {
    const ci = principal('write', ['pr-', 'run-']);
    expect(canWriteBranch(ci, 'pr-12')).toBe(true);
    expect(canWriteBranch(ci, 'run-9-1')).toBe(true);
    expect(canWriteBranch(ci, 'main')).toBe(false);
    expect(canWriteBranch(ci, 'xpr-1')).toBe(false);
  });

  it('limits parents for create', () => {
    const p = principal('write', null, ['main', 'staging']);
    expect(canCreateFrom(p, 'main')).toBe(true);
    expect(canCreateFrom(p, 'pr-3')).toBe(false);
    expect(canCreateFrom(principal('write'), 'pr-3')).toBe(true);
  });
});
