import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveAdminToken } from '../../../src/agent/auth/admin-token.ts';
import { canCreateFrom, canWriteBranch } from '../../../src/agent/auth/principal.ts';
import { StaticTokens } from '../../../src/agent/auth/static-tokens.ts';

const CI = 'ci-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789';
const HASHED = 'hashed-token-0123456789';

const tokens = new StaticTokens(
  [
    { name: 'ci', token: CI, scope: 'write', prefixes: ['pr-', 'run-'], parents: ['main'] },
    { name: 'viewer', token: VIEWER, scope: 'read' },
    { name: 'ops', tokenSha256: createHash('sha256').update(HASHED).digest('hex').toUpperCase(), scope: 'admin' },
  ],
  'the-admin-token-value',
);

describe('StaticTokens', () => {
  it('maps each token to its principal with scope, prefixes and parents', () => {
    const ci = tokens.verify(CI)!;
    expect(ci).toMatchObject({ actor: 'token:ci', kind: 'token', scope: 'write', prefixes: ['pr-', 'run-'] });
    expect(canWriteBranch(ci, 'pr-4')).toBe(true);
    expect(canWriteBranch(ci, 'main')).toBe(false);
    expect(canCreateFrom(ci, 'main')).toBe(true);
    expect(canCreateFrom(ci, 'pr-4')).toBe(false);

    const viewer = tokens.verify(VIEWER)!;
    expect(viewer.scope).toBe('read');
    expect(viewer.prefixes).toBeNull();
    expect(canWriteBranch(viewer, 'pr-4')).toBe(false);
  });

  it('accepts a token configured by its sha256 only', () => {
    expect(tokens.verify(HASHED)?.actor).toBe('token:ops');
    expect(tokens.verify(HASHED)?.scope).toBe('admin');
  });

  it('knows the admin token as principal "admin"', () => {
    expect(tokens.verify('the-admin-token-value')).toMatchObject({ actor: 'admin', scope: 'admin', prefixes: null });
  });

  it('rejects unknown tokens, prefixes and suffixes of real ones', () => {
    expect(tokens.verify('nope')).toBeNull();
    expect(tokens.verify(CI.slice(0, -1))).toBeNull();
    expect(tokens.verify(CI + 'x')).toBeNull();
    expect(tokens.verify('')).toBeNull();
  });

  it('hands out copies, so a caller cannot widen the stored principal', () => {
    tokens.verify(CI)!.prefixes!.push('');
    expect(tokens.verify(CI)!.prefixes).toEqual(['pr-', 'run-']);
  });
});

describe('resolveAdminToken', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prefers VELA_ADMIN_TOKEN', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vela-admin-'));
    const got = await resolveAdminToken({ env: { VELA_ADMIN_TOKEN: 'from-env-xyz' }, dataDir: dir });
    expect(got).toEqual({ token: 'from-env-xyz', source: 'env', path: null });
  });

  it('generates DIR/admin-token (0600) once and reads it back afterwards', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vela-admin-'));
    const data = join(dir, 'data');
    const first = await resolveAdminToken({ env: {}, dataDir: data });
    expect(first.source).toBe('generated');
    expect(first.token.length).toBeGreaterThanOrEqual(40);
    expect((await stat(first.path!)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.path!, 'utf8')).trim()).toBe(first.token);

    const second = await resolveAdminToken({ env: {}, dataDir: data });
    expect(second).toEqual({ token: first.token, source: 'file', path: first.path });
  });
});
