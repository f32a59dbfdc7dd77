import { unauthorized } from '../../core/errors.ts';
import { createOidcVerifier } from './oidc.ts';
import type { OidcConfig, OidcOptions, OidcVerifier } from './oidc.ts';
import type { Principal } from './principal.ts';
import { StaticTokens } from './static-tokens.ts';
import type { StaticTokenConfig } from './static-tokens.ts';

export interface AuthenticatorConfig {
  tokens: readonly StaticTokenConfig[];
  /** The agent's admin token (env VELA_ADMIN_TOKEN or DIR/admin-token); principal actor "admin". */
  adminToken?: string | null;
  oidc?: OidcConfig | null;
  /** Test seams for OIDC: injected JWKS getter, clock. */
  oidcOptions?: OidcOptions;
}

export interface Authenticator {
  /** Resolves the caller of one request; throws VelaError 401 (or 403 from OIDC rules). */
  authenticate(authorizationHeader: string | undefined): Promise<Principal>;
}

// Three base64url segments: a compact JWS.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

export function createAuthenticator(cfg: AuthenticatorConfig): Authenticator {
  const statics = new StaticTokens(cfg.tokens, cfg.adminToken);
  const oidc: OidcVerifier | null = cfg.oidc ? createOidcVerifier(cfg.oidc, cfg.oidcOptions) : null;

  return {
    async authenticate(header) {
      const token = bearerToken(header);
      // Static tokens first (cheap, local); so a configured token that happens to be JWT-shaped still works.
      const principal = statics.verify(token);
      if (principal) return principal;
      if (oidc && looksLikeJwt(token)) return oidc.verify(token);
      if (looksLikeJwt(token)) {
        throw unauthorized('unknown token; it looks like an OIDC token but OIDC is not configured on this agent');
      }
      throw unauthorized('unknown token');
    },
  };
}

function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw unauthorized('missing bearer token');
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) throw unauthorized('expected an Authorization header of the form "Bearer <token>"');
  return m[1];
}
