import { createLocalJWKSet } from 'jose';
import { createAuthenticator } from '../../src/agent/auth/authenticator.ts';
import type { Authenticator } from '../../src/agent/auth/authenticator.ts';
import type { PrincipalName } from './access-table.ts';
import { createTestIssuer, PR_CLAIMS } from '../agent/auth/oidc-keys.ts';

/** The principals of the README's "Access" table, as real tokens and a real signed OIDC JWT. */
export const ACCESS_ISSUER = 'https://token.actions.githubusercontent.com';
export const ACCESS_AUDIENCE = 'vela-access';

const TOKENS = {
  admin: 'access-admin-token-0000000000001',
  ci: 'access-ci-token-000000000000001',
  masked: 'access-masked-token-0000000000001',
  reader: 'access-reader-token-0000000000001',
};

export interface AccessPrincipals {
  auth: Authenticator;
  /** Bearer token of each principal. */
  bearer: Record<PrincipalName, string>;
}

export async function accessPrincipals(): Promise<AccessPrincipals> {
  const issuer = await createTestIssuer(ACCESS_ISSUER, ACCESS_AUDIENCE);
  const auth = createAuthenticator({
    adminToken: TOKENS.admin,
    tokens: [
      { name: 'ci', token: TOKENS.ci, scope: 'write', prefixes: ['ci-'], parents: ['main-masked'] },
      { name: 'masked', token: TOKENS.masked, scope: 'write', parents: ['main-masked'] },
      { name: 'reader', token: TOKENS.reader, scope: 'read' },
    ],
    oidc: {
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      rules: [{ repository: 'octo/app', scope: 'write', prefixes: ['pr-'] }],
    },
    oidcOptions: { keys: createLocalJWKSet(issuer.jwks) },
  });
  const oidc = await issuer.sign(PR_CLAIMS, { expiresIn: '1h' });
  return { auth, bearer: { ...TOKENS, oidc } };
}
