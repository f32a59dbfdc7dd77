import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JSONWebKeySet, JWTPayload } from 'jose';

/** A local stand-in for GitHub's OIDC issuer: an RS256 key pair, a token signer and a JWKS document. */
export interface TestIssuer {
  jwks: JSONWebKeySet;
  sign(
    claims: JWTPayload,
    opts?: { audience?: string; issuer?: string; expiresIn?: string | number; notBefore?: string | number; key?: CryptoKey; kid?: string },
  ): Promise<string>;
}

export async function createTestIssuer(issuer: string, audience: string): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    async sign(claims, opts = {}) {
      let jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'test-key', typ: 'JWT' })
        .setIssuer(opts.issuer ?? issuer)
        .setAudience(opts.audience ?? audience)
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '5m');
      if (opts.notBefore !== undefined) jwt = jwt.setNotBefore(opts.notBefore);
      return jwt.sign(opts.key ?? privateKey);
    },
  };
}

/** Serves a JWKS at /.well-known/jwks on 127.0.0.1 (random port); counts requests. */
export async function serveJwks(jwks: () => JSONWebKeySet): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url !== '/.well-known/jwks') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

export const PR_CLAIMS: JWTPayload = {
  sub: 'repo:octo/app:pull_request',
  repository: 'octo/app',
  repository_owner: 'octo',
  ref: 'refs/pull/7/merge',
  event_name: 'pull_request',
  actor: 'mona',
};
