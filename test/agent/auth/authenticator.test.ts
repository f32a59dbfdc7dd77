import { createLocalJWKSet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, looksLikeJwt } from '../../../src/agent/auth/authenticator.ts';
import type { Authenticator } from '../../../src/agent/auth/authenticator.ts';
import { VelaError } from '../../../src/core/errors.ts';
import { createTestIssuer, PR_CLAIMS } from './oidc-keys.ts';
import type { TestIssuer } from './oidc-keys.ts';

const ISSUER = 'https://token.actions.githubusercontent.com';
const AUDIENCE = 'vela';
const CI = 'ci-token-0123456789abcdef';

async function status(p: Promise<unknown>): Promise<[number, string]> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VelaError);
  return [(err as VelaError).status, (err as VelaError).message];
}

let issuer: TestIssuer;
let auth: Authenticator;

beforeAll(async () => {
  issuer = await createTestIssuer(ISSUER, AUDIENCE);
  auth = createAuthenticator({
    tokens: [{ name: 'ci', token: CI, scope: 'write', prefixes: ['pr-'] }],
    adminToken: 'admin-secret-value-123',
    oidc: { issuer: ISSUER, audience: AUDIENCE, rules: [{ repository: 'octo/app', scope: 'write' }] },
    oidcOptions: { keys: createLocalJWKSet(issuer.jwks) },
  });
});

describe('createAuthenticator', () => {
  it('401s without a header, or with a non-bearer one', async () => {
    expect(await status(auth.authenticate(undefined))).toEqual([401, 'missing bearer token']);
    expect((await status(auth.authenticate('')))[0]).toBe(401);
    expect((await status(auth.authenticate(`Basic ${CI}`)))[1]).toMatch(/Bearer <token>/);
  });

  it('resolves static and admin tokens', async () => {
    expect((await auth.authenticate(`Bearer ${CI}`)).actor).toBe('token:ci');
    expect((await auth.authenticate(`bearer   ${CI}`)).actor).toBe('token:ci');
    expect(await auth.authenticate('Bearer admin-secret-value-123')).toMatchObject({ actor: 'admin', scope: 'admin' });
  });

  it('401s on an unknown token without echoing it', async () => {
    const [code, message] = await status(auth.authenticate('Bearer not-a-known-token-value'));
    expect(code).toBe(401);
    expect(message).not.toContain('not-a-known-token-value');
  });

  it('routes JWT-shaped tokens to OIDC', async () => {
    const jwt = await issuer.sign(PR_CLAIMS);
    expect(looksLikeJwt(jwt)).toBe(true);
    expect(looksLikeJwt(CI)).toBe(false);
    expect(await auth.authenticate(`Bearer ${jwt}`)).toMatchObject({ kind: 'oidc', scope: 'write' });
    const other = await issuer.sign({ ...PR_CLAIMS, repository: 'someone/else' });
    expect((await status(auth.authenticate(`Bearer ${other}`)))[0]).toBe(403);
  });

  it('accepts a static token that happens to look like a JWT', async () => {
    const odd = 'abcdefgh.ijklmnop.qrstuvwx';
    const withOdd = createAuthenticator({
      tokens: [{ name: 'odd', token: odd, scope: 'read' }],
      oidc: { issuer: ISSUER, audience: AUDIENCE, rules: [{ repository: 'octo/app', scope: 'write' }] },
      oidcOptions: { keys: createLocalJWKSet(issuer.jwks) },
    });
    expect((await withOdd.authenticate(`Bearer ${odd}`)).actor).toBe('token:odd');
  });

  it('says OIDC is off when a JWT reaches an agent without OIDC', async () => {
    const plain = createAuthenticator({ tokens: [] });
    const [code, message] = await status(plain.authenticate(`Bearer ${await issuer.sign(PR_CLAIMS)}`));
    expect(code).toBe(401);
    expect(message).toMatch(/OIDC is not configured/);
  });
});
