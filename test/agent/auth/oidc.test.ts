import { createLocalJWKSet, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOidcVerifier, globProblem, globToRegExp, jwksUrlFor } from '../../../src/agent/auth/oidc.ts';
import type { OidcConfig } from '../../../src/agent/auth/oidc.ts';
import { VelaError } from '../../../src/core/errors.ts';
import { createTestIssuer, PR_CLAIMS, serveJwks } from './oidc-keys.ts';
import type { TestIssuer } from './oidc-keys.ts';

const AUDIENCE = 'https://vela.example.com';
const now = () => Math.floor(Date.now() / 1000);

async function rejection(p: Promise<unknown>): Promise<VelaError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VelaError);
  return err as VelaError;
}

let server: Awaited<ReturnType<typeof serveJwks>>;
let issuer: TestIssuer;
let cfg: OidcConfig;

beforeAll(async () => {
  let keys = { keys: [] as object[] } as never;
  server = await serveJwks(() => keys);
  issuer = await createTestIssuer(server.url, AUDIENCE);
  keys = issuer.jwks as never;
  cfg = {
    issuer: server.url,
    audience: AUDIENCE,
    rules: [
      { repository: 'octo/app', ref: 'refs/heads/*', event_name: 'push', scope: 'write', prefixes: ['run-'] },
      { repository: 'octo/app', scope: 'write', prefixes: ['pr-'], parents: ['main'] },
      { repository_owner: 'octo', scope: 'read' },
    ],
  };
});

afterAll(async () => {
  await server.close();
});

describe('OIDC verification against a JWKS served over HTTP', () => {
  it('maps a valid token of a matching repository to a principal', async () => {
    const verifier = createOidcVerifier(cfg);
    const p = await verifier.verify(await issuer.sign(PR_CLAIMS));
    expect(p).toMatchObject({
      actor: 'oidc:octo/app@refs/pull/7/merge (pull_request)',
      kind: 'oidc',
      scope: 'write',
      prefixes: ['pr-'],
      parents: ['main'],
    });
    expect(p.claims?.repository).toBe('octo/app');
    expect(server.requests()).toBeGreaterThan(0);
    expect(jwksUrlFor(cfg)).toBe(`${server.url}/.well-known/jwks`);
  });

  it('answers 503 (not 401) when the JWKS cannot be fetched', async () => {
    const verifier = createOidcVerifier({ ...cfg, jwksUrl: `${server.url}/missing` });
    const err = await rejection(verifier.verify(await issuer.sign(PR_CLAIMS)));
    expect(err.status).toBe(503);
    expect(err.message).toContain('/missing');
  });
});

describe('OIDC verification with injected keys', () => {
  let verify: (jwt: string) => Promise<unknown>;
  beforeAll(() => {
    const verifier = createOidcVerifier(cfg, { keys: createLocalJWKSet(issuer.jwks) });
    verify = (jwt) => verifier.verify(jwt);
  });

  it('lets the first matching rule win', async () => {
    const push = await verify(await issuer.sign({ ...PR_CLAIMS, ref: 'refs/heads/main', event_name: 'push' }));
    expect(push).toMatchObject({ scope: 'write', prefixes: ['run-'], parents: null });
    const sibling = await verify(await issuer.sign({ ...PR_CLAIMS, repository: 'octo/other' }));
    expect(sibling).toMatchObject({ scope: 'read', prefixes: null });
  });

  it('compares repository names case-insensitively', async () => {
    const p = await verify(await issuer.sign({ ...PR_CLAIMS, repository: 'Octo/App' }));
    expect(p).toMatchObject({ scope: 'write', prefixes: ['pr-'] });
  });

  it('refuses another repository with 403 naming it', async () => {
    const jwt = await issuer.sign({ ...PR_CLAIMS, repository: 'evil/app', repository_owner: 'evil' });
    const err = await rejection(verify(jwt));
    expect(err.status).toBe(403);
    expect(err.code).toBe('forbidden');
    expect(err.message).toContain('"evil/app"');
    expect(err.message).not.toContain(jwt);
  });

  it('rejects an expired token with 401', async () => {
    const jwt = await issuer.sign(PR_CLAIMS, { expiresIn: now() - 120 });
    const err = await rejection(verify(jwt));
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/expired/);
    expect(err.message).not.toContain(jwt);
  });

  it('tolerates a little clock skew on exp', async () => {
    const p = await verify(await issuer.sign(PR_CLAIMS, { expiresIn: now() - 5 }));
    expect(p).toMatchObject({ kind: 'oidc' });
  });

  it('rejects a wrong audience with 401 naming the expected one', async () => {
    const err = await rejection(verify(await issuer.sign(PR_CLAIMS, { audience: 'https://other.example.com' })));
    expect(err.status).toBe(401);
    expect(err.message).toContain(AUDIENCE);
  });

  it('rejects a wrong issuer with 401', async () => {
    const err = await rejection(verify(await issuer.sign(PR_CLAIMS, { issuer: 'https://evil.example.com' })));
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/issuer/);
  });

  it('rejects nbf in the future with 401', async () => {
    const err = await rejection(verify(await issuer.sign(PR_CLAIMS, { notBefore: now() + 300, expiresIn: now() + 600 })));
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/not valid yet/);
  });

  it('rejects a token signed by another key with 401', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await issuer.sign(PR_CLAIMS, { key: privateKey });
    const err = await rejection(verify(forged));
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/signature/);
    const unknownKid = await rejection(verify(await issuer.sign(PR_CLAIMS, { key: privateKey, kid: 'other' })));
    expect(unknownKid.status).toBe(401);
  });

  it('rejects garbage with 401', async () => {
    const err = await rejection(verify('aaa.bbb.ccc'));
    expect(err.status).toBe(401);
  });
});

describe('globToRegExp', () => {
  it('treats * as one path segment and everything else literally', () => {
    const re = globToRegExp('refs/pull/*/merge');
    expect(re.test('refs/pull/12/merge')).toBe(true);
    expect(re.test('refs/pull/12/head')).toBe(false);
    expect(globToRegExp('refs/heads/main').test('refs/heads/mainx')).toBe(false);
    expect(globToRegExp('v1.2').test('v1x2')).toBe(false);
  });
});

describe('OIDC globs and id pins', () => {
  it('* never crosses "/" and never completes a name', () => {
    expect(globToRegExp('refs/heads/*').test('refs/heads/main')).toBe(true);
    expect(globToRegExp('refs/heads/*').test('refs/heads/feature/x')).toBe(false);
    expect(globToRegExp('refs/pull/*/merge').test('refs/pull/1/2/merge')).toBe(false);
    expect(globToRegExp('refs/heads/main').test('refs/heads/main-evil')).toBe(false);
    expect(() => globToRegExp('refs/heads/main*')).toThrow(/one whole path segment.*"main\*"/);
    expect(globProblem('refs/heads/release-*')).toMatch(/release-\*/);
    expect(globProblem('refs/pull/*/merge')).toBeNull();
  });

  it('a rule may pin repository_id, repository_owner_id and job_workflow_ref', async () => {
    const pinned = createOidcVerifier({
      ...cfg,
      rules: [
        {
          repository_id: '42',
          repository_owner_id: '7',
          job_workflow_ref: 'octo/app/.github/workflows/ci.yml@refs/heads/*',
          scope: 'write',
          prefixes: ['pr-'],
        },
      ],
    });
    const claims = {
      ...PR_CLAIMS,
      repository_id: '42',
      repository_owner_id: '7',
      job_workflow_ref: 'octo/app/.github/workflows/ci.yml@refs/heads/main',
    };
    expect((await pinned.verify(await issuer.sign(claims))).scope).toBe('write');
    for (const wrong of [
      { repository_id: '43' },
      { repository_owner_id: '8' },
      { job_workflow_ref: 'octo/app/.github/workflows/evil.yml@refs/heads/main' },
      { job_workflow_ref: 'octo/app/.github/workflows/ci.yml@refs/heads/a/b' },
      { repository_id: undefined },
    ]) {
      const err = await rejection(pinned.verify(await issuer.sign({ ...claims, ...wrong })));
      expect(err.status).toBe(403);
    }
  });
});
